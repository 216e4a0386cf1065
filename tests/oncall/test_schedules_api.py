"""On-call schedules through the API on both databases: definitions (create, read, replace,
delete, roles, invalid fields, duplicate names), who is on call across a handoff, shifts
and reports, and the scheduler's handoff helper.

The clock stands at Sunday 2026-03-01 12:00 UTC. ``primary`` hands off daily at 09:00 UTC
from Friday 2026-02-27 in the order alice, bob, carol: bob has Feb 28, carol Mar 1 (until
Mar 2 09:00), alice Mar 2, bob Mar 3. ``secondary`` hands off weekly on Mondays at 09:00
Berlin time (08:00 UTC in winter) from Feb 23: dave, then bob from Mar 2 08:00 UTC.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from schedule_requests import (
    BASE,
    SECONDARY,
    body,
    call,
    create,
    error_field,
    on_call,
    u,
    users_fixture,  # noqa: F401  (the users fixture)
)

from conftest import Harness
from vigil.oncall.schedules import service as svc
from vigil.tenants.models import DEFAULT_TENANT_ID


def test_create_read_replace_delete(vigil: Harness, users: Any) -> None:
    made = create(vigil, body())
    sid = made["id"]
    assert made["name"] == "primary" and made["layers"] == body()["layers"]
    assert made["on_call_now"] == ["carol"]
    assert made["next_handoff"] == {"at": "2026-03-02T09:00:00Z", "before": ["carol"],
                                    "after": ["alice"]}
    url = urlsplit(made["ical_url"])
    token = url.query.removeprefix("token=")
    assert url.path == f"{BASE}/{sid}/shifts.ics" and len(token) == 32
    assert call(vigil, "GET", f"{BASE}/{sid}", 200) == made
    assert [s["name"] for s in call(vigil, "GET", BASE, 200)] == ["primary"]

    changed = call(vigil, "PUT", f"{BASE}/{sid}", 200,
                   json=body(participants=("bob", "carol", "alice")))
    assert changed["on_call_now"] == ["alice"] and changed["next_handoff"]["after"] == ["bob"]
    assert changed["ical_url"] == made["ical_url"]
    assert call(vigil, "DELETE", f"{BASE}/{sid}", 204)
    call(vigil, "GET", f"{BASE}/{sid}", 404)
    call(vigil, "DELETE", f"{BASE}/{sid}", 404)


def test_roles(vigil: Harness, users: Any) -> None:
    viewer = {"Authorization": f"Bearer {vigil.key_for('viewer')}"}
    responder = {"Authorization": f"Bearer {vigil.key_for('responder')}"}
    call(vigil, "POST", BASE, 403, json=body(), headers=responder)
    sid = create(vigil, body())["id"]
    call(vigil, "GET", f"{BASE}/{sid}", 200, headers=viewer)
    call(vigil, "PUT", f"{BASE}/{sid}", 403, json=body(), headers=responder)
    override = {"type": "add", "user": "dave", "start": "2026-03-01T12:00:00Z",
                "end": "2026-03-01T13:00:00Z"}
    call(vigil, "POST", f"{BASE}/{sid}/overrides", 403, json=override, headers=viewer)
    call(vigil, "POST", f"{BASE}/{sid}/overrides", 201, json=override, headers=responder)
    call(vigil, "GET", BASE, 401, headers={})


def _rotation(**changes: Any) -> dict[str, Any]:
    data = body()
    data["layers"][0]["rotation"].update(changes)
    return data


def _without(key: str) -> dict[str, Any]:
    data = body()
    del data[key]
    return data


@pytest.mark.parametrize(("data", "field"), [
    ({**body(), "time_zone": "Mars/Olympus"}, "time_zone"),
    (_without("time_zone"), "time_zone"),
    ({**body(), "layers": []}, "layers"),
    ({**body(), "name": " "}, "name"),
    ({**body(), "colour": "red"}, "colour"),
    (_rotation(type="fortnightly"), "layers[0].rotation.type"),
    (_rotation(length=0), "layers[0].rotation.length"),
    (_rotation(start="2026-02-27T09:00:00Z"), "layers[0].rotation.start"),
    (_rotation(participants=["alice", "zed"]), "layers[0].rotation.participants[1]"),
    (body(overrides=[{"type": "add", "user": "zed", "start": "2026-03-01T00:00:00Z",
                      "end": "2026-03-02T00:00:00Z"}]), "overrides[0].user"),
    ({**body(), "layers": [{**body()["layers"][0], "restrictions": [
        {"days": ["mon"], "start": "9", "end": "17:00"}]}]}, "layers[0].restrictions[0].start"),
])
def test_invalid_definitions_name_the_field(vigil: Harness, users: Any, data: dict[str, Any],
                                            field: str) -> None:
    assert error_field(vigil, "POST", BASE, 422, json=data) == field
    assert call(vigil, "GET", BASE, 200) == []


def test_duplicate_names_conflict(vigil: Harness, users: Any) -> None:
    create(vigil, body())
    call(vigil, "POST", BASE, 409, json=body(participants=("dave",)))
    other = create(vigil, body("other"))
    assert error_field(vigil, "PUT", f"{BASE}/{other['id']}", 409, json=body()) == "name"
    assert [s["name"] for s in call(vigil, "GET", BASE, 200)] == ["other", "primary"]


def test_oncall_across_a_handoff(vigil: Harness, users: Any) -> None:
    create(vigil, body())
    create(vigil, SECONDARY)
    now = call(vigil, "GET", "/api/v1/oncall", 200)
    assert now["at"] == "2026-03-01T12:00:00Z"
    assert [(s["name"], s["on_call"], s["next_handoff"]["at"]) for s in now["schedules"]] == [
        ("primary", ["carol"], "2026-03-02T09:00:00Z"),
        ("secondary", ["dave"], "2026-03-02T08:00:00Z")]
    assert on_call(vigil, "2026-03-02T07:59:59Z") == {"primary": ["carol"],
                                                      "secondary": ["dave"]}
    after = call(vigil, "GET", "/api/v1/oncall", 200, params={"at": "2026-03-02T09:00:00Z"})
    assert [(s["on_call"], s["next_handoff"]) for s in after["schedules"]] == [
        (["alice"], {"at": "2026-03-03T09:00:00Z", "before": ["alice"], "after": ["bob"]}),
        (["bob"], {"at": "2026-03-09T08:00:00Z", "before": ["bob"], "after": ["dave"]})]
    for bad in ("2026-03-02T09:00:00", "yesterday"):
        assert error_field(vigil, "GET", "/api/v1/oncall", 422, params={"at": bad}) == "at"


def test_shifts_and_report(vigil: Harness, users: Any) -> None:
    sid = create(vigil, body())["id"]
    shifts = call(vigil, "GET", f"{BASE}/{sid}/shifts", 200, params={
        "start": "2026-03-01T00:00:00Z", "end": "2026-03-03T00:00:00Z"})
    assert shifts == [
        {"user": "bob", "start": "2026-03-01T00:00:00Z", "end": "2026-03-01T09:00:00Z",
         "hours": 9.0},
        {"user": "carol", "start": "2026-03-01T09:00:00Z", "end": "2026-03-02T09:00:00Z",
         "hours": 24.0},
        {"user": "alice", "start": "2026-03-02T09:00:00Z", "end": "2026-03-03T00:00:00Z",
         "hours": 15.0}]
    assert len(call(vigil, "GET", f"{BASE}/{sid}/shifts", 200)) == 8  # default: next 7 days

    ending = create(vigil, {**body("ending", ("alice", "bob")), "layers": [{"rotation": {
        "type": "daily", "start": "2026-03-01T09:00", "end": "2026-03-03T09:00",
        "participants": ["alice", "bob"]}}]})
    report = call(vigil, "GET", f"{BASE}/{ending['id']}/report", 200, params={
        "start": "2026-03-01T00:00:00Z", "end": "2026-03-04T00:00:00Z"})
    assert report == {
        "start": "2026-03-01T00:00:00Z", "end": "2026-03-04T00:00:00Z",
        "gaps": [{"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T09:00:00Z", "hours": 9.0},
                 {"start": "2026-03-03T09:00:00Z", "end": "2026-03-04T00:00:00Z",
                  "hours": 15.0}],
        "gap_hours": 24.0, "hours": {"alice": 24.0, "bob": 24.0},
        "covered_fraction": pytest.approx(2 / 3)}
    bad = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}
    assert error_field(vigil, "GET", f"{BASE}/{sid}/report", 422, params=bad) == "end"
    assert error_field(vigil, "GET", f"{BASE}/{sid}/shifts", 422,
                       params={"start": "2026-03-01T00:00"}) == "start"
    call(vigil, "GET", f"{BASE}/999/shifts", 404)


def test_handoffs_between(vigil: Harness, users: Any) -> None:
    create(vigil, body())
    create(vigil, SECONDARY)
    with vigil.ctx.db.read() as s:
        day = svc.handoffs_between(s, DEFAULT_TENANT_ID, u(2), u(3))
        at_nine = svc.handoffs_between(s, DEFAULT_TENANT_ID, u(2, 9), u(2, 10))
        before = svc.handoffs_between(s, DEFAULT_TENANT_ID, u(2, 8, 30), u(2, 9))
    assert day == [("secondary", u(2, 8), ("dave",), ("bob",)),
                   ("primary", u(2, 9), ("carol",), ("alice",))]
    assert at_nine == [("primary", u(2, 9), ("carol",), ("alice",))]
    assert before == []
