"""Bad input to the on-call API on both databases: bodies that are not JSON objects (400
naming ``body`` on every endpoint that takes one) and escalation policies naming unknown
users (422 naming the field, through the API and ``vigil apply``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bad_bodies import JSON, refuses_bad_bodies
from conftest import Harness
from oncall_people import add_users
from vigil import configfiles
from vigil.errors import InvalidInput
from vigil.tenants.models import DEFAULT_TENANT_ID

#: (method, path, the kinds of BODIES that do not apply), one for every on-call endpoint
#: that reads a body. No object needs to exist: the body is refused before anything else.
ENDPOINTS = [
    ("POST", "/api/v1/schedules", ()),
    ("PUT", "/api/v1/schedules/1", ()),
    ("POST", "/api/v1/schedules/1/overrides", ()),
    ("POST", "/api/v1/schedules/1/swaps", ()),
    ("POST", "/api/v1/schedules/1/swaps/swap-1/accept", ()),
    ("POST", "/api/v1/schedules/1/import", ("type",)),  # also takes text/calendar
    ("POST", "/api/v1/users", ()),
    ("PATCH", "/api/v1/users/1", ()),
    ("PUT", "/api/v1/users/1/password", ()),
    ("POST", "/api/v1/users/1/contact-methods", ()),
    ("POST", "/api/v1/users/1/notification-rules", ()),
    ("POST", "/api/v1/teams", ()),
    ("PATCH", "/api/v1/teams/1", ()),
    ("POST", "/api/v1/services", ()),
    ("PATCH", "/api/v1/services/1", ()),
    ("POST", "/api/v1/escalation-policies", ()),
    ("PUT", "/api/v1/escalation-policies/1", ()),
    ("POST", "/api/v1/incidents/1/escalate", ("empty", "type")),  # no body needed
    ("POST", "/api/v1/incidents/1/reassign", ()),
    ("POST", "/api/v1/page", ()),
]


@pytest.mark.parametrize(("method", "path", "exempt"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_a_body_that_is_not_a_json_object_is_a_400_naming_the_body(
        vigil: Harness, method: str, path: str, exempt: tuple[str, ...]) -> None:
    refuses_bad_bodies(vigil, method, path, exempt)


def test_valid_bodies_still_reach_the_endpoints(vigil: Harness) -> None:
    made = vigil.client.post("/api/v1/teams", headers=vigil.auth, json={"name": "sre"})
    assert made.status_code == 201, made.text
    tid = made.json()["id"]
    renamed = vigil.client.patch(f"/api/v1/teams/{tid}", headers={**vigil.auth, **JSON},
                                 content=b'{"description": "site reliability"}')
    assert renamed.status_code == 200 and renamed.json()["description"] == "site reliability"
    # Field errors inside an object stay 422s naming the field.
    bad = vigil.client.post("/api/v1/teams", headers=vigil.auth, json={"name": ""})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "name"
    # A calendar file is the import's own body; an empty one is its own 422.
    empty = vigil.client.post("/api/v1/schedules/1/import",
                              headers={**vigil.auth, "Content-Type": "text/calendar"},
                              content=b" ")
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "ics"
    wrong = vigil.client.post("/api/v1/schedules/1/import", headers=vigil.auth,
                              json={"calendar": "BEGIN:VCALENDAR"})
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "ics"


@pytest.fixture
def people(vigil: Harness) -> None:
    add_users(vigil.ctx.db, vigil.clock.now(), "alice", "bob")


def _policy(*targets: dict[str, Any]) -> dict[str, Any]:
    return {"name": "dbas", "steps": [{"targets": [{"user": "alice"}]},
                                      {"delay": 5, "targets": list(targets)}]}


@pytest.mark.parametrize(("target", "field"), [
    ({"round_robin": ["alice", "ghost"]}, "steps[1].targets[1].round_robin[1]"),
    ({"type": "round_robin", "id": "dbas", "users": ["ghost", "bob"]},
     "steps[1].targets[1].users[0]"),
    ({"user": "ghost"}, "steps[1].targets[1]"),
    ({"type": "user", "id": "ghost"}, "steps[1].targets[1]"),
])
def test_a_policy_naming_an_unknown_user_is_refused_naming_the_field(
        vigil: Harness, people: None, tmp_path: Path, target: dict[str, Any],
        field: str) -> None:
    policies = "/api/v1/escalation-policies"
    policy = _policy({"user": "bob"}, target)
    resp = vigil.client.post(policies, headers=vigil.auth, json=policy)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["field"] == field and "'ghost'" in error["message"], error
    assert vigil.client.get(policies, headers=vigil.auth).json() == []
    made = vigil.client.post(policies, headers=vigil.auth, json=_policy({"user": "bob"}))
    assert made.status_code == 201, made.text
    replaced = vigil.client.put(f"{policies}/{made.json()['id']}", headers=vigil.auth,
                                json=policy)
    assert replaced.status_code == 422 and replaced.json()["error"]["field"] == field

    # vigil apply: the same check, the field prefixed with the file and document.
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump({"kind": "EscalationPolicy", **policy}))
    with pytest.raises(InvalidInput) as refused, vigil.ctx.db.write() as s:
        configfiles.apply(s, configfiles.load([path]), tenant_id=DEFAULT_TENANT_ID,
                          now=vigil.clock.now())
    assert refused.value.field == f"policies.yaml#1.{field}"
    (stored,) = vigil.client.get(policies, headers=vigil.auth).json()
    assert stored["steps"] == _policy({"user": "bob"})["steps"]  # nothing was applied


def test_a_policy_naming_known_users_is_accepted(vigil: Harness, people: None) -> None:
    resp = vigil.client.post("/api/v1/escalation-policies", headers=vigil.auth, json=_policy(
        {"round_robin": ["alice", "bob"]},
        {"type": "round_robin", "id": "pair", "users": ["bob", "alice"]},
        {"type": "user", "id": " bob "}, {"slack_channel": "#dbas"}))
    assert resp.status_code == 201, resp.text
