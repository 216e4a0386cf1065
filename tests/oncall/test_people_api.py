"""Users (contact methods, notification rules, warnings), teams and services through the
API and as YAML, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from conftest import Harness
from vigil import configfiles
from vigil.errors import InvalidInput
from vigil.oncall.models import ContactMethod, EscalationPolicyRow, ScheduleRow, Team
from vigil.oncall.people import service as people_service
from vigil.tenants.models import DEFAULT_TENANT_ID

USERS = "/api/v1/users"
TEAMS = "/api/v1/teams"
SERVICES = "/api/v1/services"


def post(h: Harness, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    resp = h.client.post(path, json=body, headers=h.auth)
    assert resp.status_code == status, resp.text
    out: dict[str, Any] = resp.json()
    return out


def user(h: Harness, username: str, **body: Any) -> dict[str, Any]:
    return post(h, USERS, {"username": username, "name": username.title(),
                           "email": f"{username}@example.com", **body})


def error(resp: Any, status: int = 422) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    out: dict[str, Any] = resp.json()["error"]
    return out


def test_user_crud_contact_methods_rules_and_warnings(vigil: Harness) -> None:
    alice = user(vigil, "alice", time_zone="Europe/Berlin", role="admin")
    uid = alice["id"]
    assert alice["ical_url"].startswith(f"/api/v1/users/{uid}/shifts.ics?token=")
    assert len(alice["ical_url"].split("token=")[1]) == 32
    assert "password_hash" not in alice and "ical_token" not in alice
    assert alice["warnings"] == [people_service.NO_CONTACT, people_service.NO_HIGH,
                                 people_service.NO_LOW]
    (listed,) = vigil.client.get(USERS, headers=vigil.auth).json()
    assert listed["username"] == "alice" and "ical_url" not in listed
    assert "password_hash" not in listed and listed["warnings"] == alice["warnings"]
    cms = f"{USERS}/{uid}/contact-methods"
    methods = {kind: post(vigil, cms, {"type": kind, "address": address})["id"]
               for kind, address in [("email", "alice@example.com"), ("sms", "+4915112345678"),
                                     ("voice", "+14155550100"), ("slack", "U012ABCDEF"),
                                     ("teams", "https://example.webhook.office.com/x"),
                                     ("webhook", "http://hooks.example.com/alice")]}
    post(vigil, cms, {"type": "slack", "address": "@alice", "label": "handle"})
    assert len(vigil.client.get(cms, headers=vigil.auth).json()) == 7
    rules = f"{USERS}/{uid}/notification-rules"
    high = post(vigil, rules, {"contact_method_id": methods["sms"], "urgency": "high",
                               "delay_minutes": 5})
    assert high["delay_minutes"] == 5
    warnings = vigil.client.get(f"{USERS}/{uid}/warnings", headers=vigil.auth).json()
    assert warnings == [people_service.NO_LOW]
    low = post(vigil, rules, {"contact_method_id": methods["email"], "urgency": "low"})
    got = vigil.client.get(f"{USERS}/{uid}", headers=vigil.auth).json()
    assert got["warnings"] == [] and got["ical_url"] == alice["ical_url"]
    assert [r["id"] for r in got["notification_rules"]] == [high["id"], low["id"]]
    assert len(got["contact_methods"]) == 7
    assert vigil.client.delete(f"{rules}/{low['id']}", headers=vigil.auth).status_code == 204
    assert vigil.client.delete(f"{rules}/{low['id']}", headers=vigil.auth).status_code == 404
    # Deleting a contact method deletes the rules that use it.
    assert vigil.client.delete(f"{cms}/{methods['sms']}",
                               headers=vigil.auth).status_code == 204
    assert vigil.client.get(rules, headers=vigil.auth).json() == []
    changed = vigil.client.patch(f"{USERS}/{uid}", headers=vigil.auth,
                                 json={"name": "Alice A.", "time_zone": "America/New_York"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["time_zone"], changed.json()["role"]) == (
        "Alice A.", "America/New_York", "admin")
    assert vigil.client.delete(f"{USERS}/{uid}", headers=vigil.auth).status_code == 204
    assert vigil.client.get(f"{USERS}/{uid}", headers=vigil.auth).status_code == 404
    assert vigil.client.get(cms, headers=vigil.auth).status_code == 404


def test_validation_errors_name_their_field(vigil: Harness) -> None:
    alice, bob = user(vigil, "alice"), user(vigil, "bob")
    base = {"username": "carol", "name": "Carol", "email": "carol@example.com"}
    for change, field in [({"username": "Carol"}, "username"),
                          ({"username": "-carol"}, "username"),
                          ({"email": "carol@"}, "email"), ({"email": "no at"}, "email"),
                          ({"time_zone": "Mars/Olympus"}, "time_zone"),
                          ({"role": "owner"}, "role"), ({"name": ""}, "name"),
                          ({"password_hash": "x"}, "password_hash")]:
        assert error(vigil.client.post(USERS, json={**base, **change},
                                       headers=vigil.auth))["field"] == field, change
    tz = error(vigil.client.patch(f"{USERS}/{alice['id']}", json={"time_zone": "Nowhere"},
                                  headers=vigil.auth))
    assert tz["field"] == "time_zone" and "Nowhere" in tz["message"]
    assert error(vigil.client.patch(f"{USERS}/{alice['id']}", json={"email": None},
                                    headers=vigil.auth))["field"] == "email"
    cms = f"{USERS}/{alice['id']}/contact-methods"
    for kind, address in [("email", "alice"), ("sms", "015112345678"), ("voice", "+0123456"),
                          ("sms", "+49 151 1234"), ("slack", "alice"), ("slack", "u012abcdef"),
                          ("teams", "http://insecure.example.com"), ("teams", "nobody"),
                          ("webhook", "ftp://example.com/x"), ("webhook", "not a url")]:
        err = error(vigil.client.post(cms, json={"type": kind, "address": address},
                                      headers=vigil.auth))
        assert err["field"] == "address", (kind, address)
    assert error(vigil.client.post(cms, json={"type": "pager", "address": "x"},
                                   headers=vigil.auth))["field"] == "type"
    bobs = post(vigil, f"{USERS}/{bob['id']}/contact-methods",
                {"type": "email", "address": "bob@example.com"})
    rules = f"{USERS}/{alice['id']}/notification-rules"
    for body, field in [({"contact_method_id": bobs["id"]}, "contact_method_id"),
                        ({"contact_method_id": 99999}, "contact_method_id"),
                        ({"contact_method_id": bobs["id"], "urgency": "urgent"}, "urgency"),
                        ({"contact_method_id": bobs["id"], "delay_minutes": 1441},
                         "delay_minutes"),
                        ({"contact_method_id": bobs["id"], "delay_minutes": -1},
                         "delay_minutes")]:
        assert error(vigil.client.post(rules, json=body, headers=vigil.auth))["field"] == field
    for body, field in [({"name": "sre", "members": ["alice", "ghost"]}, "members[1]"),
                        ({"name": "sre", "members": ["alice", "alice"]}, "members[1]"),
                        ({"name": "sre", "members": ["Not Valid"]}, "members[0]"),
                        ({"name": ""}, "name")]:
        assert error(vigil.client.post(TEAMS, json=body, headers=vigil.auth))["field"] == field
    for body, field in [({"name": "web", "team": "ghosts"}, "team"),
                        ({"name": "web", "runbook_links": [{"title": "x", "url": "ftp://x"}]},
                         "runbook_links[0].url"),
                        ({"name": "web", "runbook_links": [{"url": "https://x.io"}]},
                         "runbook_links[0].title")]:
        assert error(vigil.client.post(SERVICES, json=body,
                                       headers=vigil.auth))["field"] == field
    # Nothing was half applied.
    assert vigil.client.get(TEAMS, headers=vigil.auth).json() == []
    assert vigil.client.get(SERVICES, headers=vigil.auth).json() == []
    assert len(vigil.client.get(USERS, headers=vigil.auth).json()) == 2


def test_duplicates_are_conflicts(vigil: Harness) -> None:
    alice, bob = user(vigil, "alice"), user(vigil, "bob")
    dup = error(vigil.client.post(USERS, headers=vigil.auth, json={
        "username": "alice", "name": "Other", "email": "o@example.com"}), 409)
    assert dup["field"] == "username" and "alice" in dup["message"]
    assert error(vigil.client.patch(f"{USERS}/{bob['id']}", json={"username": "alice"},
                                    headers=vigil.auth), 409)["field"] == "username"
    cms = f"{USERS}/{alice['id']}/contact-methods"
    post(vigil, cms, {"type": "sms", "address": "+4915112345678", "label": "mobile"})
    assert error(vigil.client.post(cms, json={"type": "sms", "address": "+4915112345678"},
                                   headers=vigil.auth), 409)["field"] == "address"
    assert error(vigil.client.post(cms, headers=vigil.auth, json={
        "type": "voice", "address": "+4915112345678", "label": "mobile"}), 409)[
        "field"] == "label"
    team = post(vigil, TEAMS, {"name": "sre"})
    post(vigil, TEAMS, {"name": "dba"})
    assert error(vigil.client.post(TEAMS, json={"name": "sre"}, headers=vigil.auth),
                 409)["field"] == "name"
    assert error(vigil.client.patch(f"{TEAMS}/{team['id']}", json={"name": "dba"},
                                    headers=vigil.auth), 409)["field"] == "name"
    post(vigil, SERVICES, {"name": "checkout"})
    assert error(vigil.client.post(SERVICES, json={"name": "checkout"}, headers=vigil.auth),
                 409)["field"] == "name"


def test_viewer_reads_but_cannot_write(vigil: Harness) -> None:
    alice = user(vigil, "alice")
    team = post(vigil, TEAMS, {"name": "sre", "members": ["alice"]})
    viewer = {"Authorization": f"Bearer {vigil.key_for('viewer')}"}
    responder = {"Authorization": f"Bearer {vigil.key_for('responder')}"}
    assert [u["username"] for u in vigil.client.get(USERS, headers=viewer).json()] == ["alice"]
    assert vigil.client.get(f"{USERS}/{alice['id']}", headers=viewer).status_code == 200
    assert vigil.client.get(f"{TEAMS}/{team['id']}", headers=viewer).status_code == 200
    assert vigil.client.get(SERVICES, headers=viewer).status_code == 200
    for headers in (viewer, responder):
        assert vigil.client.post(USERS, headers=headers, json={
            "username": "eve", "name": "Eve", "email": "eve@example.com"}).status_code == 403
        assert vigil.client.post(TEAMS, json={"name": "x"}, headers=headers).status_code == 403
        assert vigil.client.post(SERVICES, json={"name": "x"},
                                 headers=headers).status_code == 403
        assert vigil.client.post(f"{USERS}/{alice['id']}/contact-methods", headers=headers,
                                 json={"type": "sms", "address": "+4915112345678"}
                                 ).status_code == 403
        assert vigil.client.patch(f"{TEAMS}/{team['id']}", json={"description": "x"},
                                  headers=headers).status_code == 403
        assert vigil.client.delete(f"{USERS}/{alice['id']}",
                                   headers=headers).status_code == 403
    assert vigil.client.get(USERS).status_code == 401


def _insert_schedule_and_policy(h: Harness) -> None:
    now = h.clock.now()
    with h.ctx.db.write() as s:
        s.add(ScheduleRow(tenant_id=DEFAULT_TENANT_ID, name="primary", ical_token="t",
                          created_at=now, updated_at=now, definition={
                              "name": "primary", "time_zone": "UTC",
                              "layers": [{"name": "l1", "rotations": [
                                  {"type": "weekly", "participants": ["alice", "bob"]}]}],
                              "overrides": [{"type": "replace", "user": "carol",
                                             "replaces": "alice"}],
                              "swaps": [{"id": "s1", "requester": "alice",
                                         "counterpart": "carol"}]}))
        s.add(EscalationPolicyRow(tenant_id=DEFAULT_TENANT_ID, name="default",
                                  created_at=now, updated_at=now, definition={
                                      "name": "default", "steps": [{"delay": 0, "targets": [
                                          {"type": "user", "id": "alice"},
                                          {"type": "schedule", "id": "alice"},
                                          {"type": "round_robin", "id": "rr",
                                           "users": ["carol", "alice"]}]}]}))
        s.add(EscalationPolicyRow(tenant_id=DEFAULT_TENANT_ID, name="other",
                                  created_at=now, updated_at=now, definition={
                                      "name": "other", "steps": [{"targets": [
                                          {"type": "user", "id": "carol"}]}]}))


def test_delete_refused_while_referenced_and_replace_with_substitutes(vigil: Harness) -> None:
    alice, bob = user(vigil, "alice"), user(vigil, "bob")
    user(vigil, "carol")
    post(vigil, TEAMS, {"name": "sre", "members": ["alice", "bob"]})
    _insert_schedule_and_policy(vigil)
    refused = error(vigil.client.delete(f"{USERS}/{alice['id']}", headers=vigil.auth), 409)
    assert ('team "sre" members; schedule "primary"; escalation policy "default"'
            in refused["message"])
    assert [(d["kind"], d["name"]) for d in refused["details"]] == [
        ("team", "sre"), ("schedule", "primary"), ("escalation policy", "default")]
    assert sorted(refused["details"][1]["paths"]) == [  # JSONB keeps its own key order
        "layers[0].rotations[0].participants[0]", "overrides[0].replaces",
        "swaps[0].requester"]
    assert refused["details"][2]["paths"] == ["steps[0].targets[0].id",
                                              "steps[0].targets[2].users[1]"]
    assert error(vigil.client.delete(f"{USERS}/{alice['id']}?replace_with=ghost",
                                     headers=vigil.auth))["field"] == "replace_with"
    assert error(vigil.client.delete(f"{USERS}/{alice['id']}?replace_with=alice",
                                     headers=vigil.auth))["field"] == "replace_with"
    assert vigil.client.get(f"{USERS}/{alice['id']}", headers=vigil.auth).status_code == 200
    done = vigil.client.delete(f"{USERS}/{alice['id']}?replace_with=carol", headers=vigil.auth)
    assert done.status_code == 204, done.text
    assert vigil.client.get(f"{USERS}/{alice['id']}", headers=vigil.auth).status_code == 404
    with vigil.ctx.db.read() as s:
        schedule = s.scalars(select(ScheduleRow)).one().definition
        policies = {p.name: p.definition for p in s.scalars(select(EscalationPolicyRow))}
        assert people_service.team_members(s, DEFAULT_TENANT_ID, "sre") == ["carol", "bob"]
    assert schedule["layers"][0]["rotations"][0]["participants"] == ["carol", "bob"]
    assert schedule["overrides"][0] == {"type": "replace", "user": "carol",
                                        "replaces": "carol"}
    assert schedule["swaps"][0]["requester"] == "carol"
    targets = policies["default"]["steps"][0]["targets"]
    assert targets[0] == {"type": "user", "id": "carol"}
    assert targets[1] == {"type": "schedule", "id": "alice"}  # a schedule's id, not a user
    assert targets[2]["users"] == ["carol", "carol"]
    # Renaming a user renames them everywhere too.
    renamed = vigil.client.patch(f"{USERS}/{bob['id']}", json={"username": "robert"},
                                 headers=vigil.auth)
    assert renamed.status_code == 200 and renamed.json()["username"] == "robert"
    with vigil.ctx.db.read() as s:
        assert s.scalars(select(Team)).one().members == ["carol", "robert"]
        assert s.scalars(select(ScheduleRow)).one().definition["layers"][0]["rotations"][0][
            "participants"] == ["carol", "robert"]


def test_teams_and_services(vigil: Harness) -> None:
    user(vigil, "alice")
    user(vigil, "bob")
    team = post(vigil, TEAMS, {"name": "sre", "description": "site reliability",
                               "members": ["alice"], "escalation_policy": "default"})
    assert (team["members"], team["escalation_policy"]) == (["alice"], "default")
    service = post(vigil, SERVICES, {
        "name": "checkout", "team": "sre", "escalation_policy": "critical",
        "runbook_links": [{"title": "Runbook", "url": "https://wiki.example.com/checkout"}]})
    assert service["runbook_links"] == [{"title": "Runbook",
                                         "url": "https://wiki.example.com/checkout"}]
    changed = vigil.client.patch(f"{TEAMS}/{team['id']}", headers=vigil.auth, json={
        "name": "platform", "members": ["alice", "bob"], "escalation_policy": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["members"], changed.json()["escalation_policy"]) == (
        ["alice", "bob"], None)
    got = vigil.client.get(f"{SERVICES}/{service['id']}", headers=vigil.auth).json()
    assert got["team"] == "platform"  # followed the rename
    assert error(vigil.client.patch(f"{SERVICES}/{service['id']}", json={"team": "sre"},
                                    headers=vigil.auth))["field"] == "team"
    refused = error(vigil.client.delete(f"{TEAMS}/{team['id']}", headers=vigil.auth), 409)
    assert 'service "checkout" team' in refused["message"]
    cleared = vigil.client.patch(f"{SERVICES}/{service['id']}", headers=vigil.auth,
                                 json={"team": None, "description": "the shop"})
    assert cleared.json()["team"] is None and cleared.json()["description"] == "the shop"
    with vigil.ctx.db.read() as s:
        assert people_service.team_members(s, DEFAULT_TENANT_ID, "platform") == [
            "alice", "bob"]
        assert people_service.team_members(s, DEFAULT_TENANT_ID, "nobody") == []
    assert vigil.client.delete(f"{TEAMS}/{team['id']}", headers=vigil.auth).status_code == 204
    assert vigil.client.delete(f"{SERVICES}/{service['id']}",
                               headers=vigil.auth).status_code == 204
    assert vigil.client.get(f"{TEAMS}/{team['id']}", headers=vigil.auth).status_code == 404
    assert vigil.client.get(SERVICES, headers=vigil.auth).json() == []


def test_reachable_orders_channels_by_delay(vigil: Harness) -> None:
    alice = user(vigil, "alice")
    cms, rules = (f"{USERS}/{alice['id']}/contact-methods",
                  f"{USERS}/{alice['id']}/notification-rules")
    ids = {kind: post(vigil, cms, {"type": kind, "address": address})["id"]
           for kind, address in [("email", "alice@example.com"), ("sms", "+4915112345678"),
                                 ("slack", "U012ABCDEF"), ("voice", "+4915112345678")]}
    for kind, urgency, delay in [("email", "high", 15), ("sms", "high", 5), ("slack", "high", 0),
                                 ("voice", "high", 10), ("email", "low", 0)]:
        post(vigil, rules, {"contact_method_id": ids[kind], "urgency": urgency,
                            "delay_minutes": delay})
    with vigil.ctx.db.write() as s:
        s.execute(update(ContactMethod).where(ContactMethod.id == ids["voice"])
                  .values(enabled=False))
    with vigil.ctx.db.read() as s:
        high = [(m.type, m.address, d)
                for m, d in people_service.reachable(s, DEFAULT_TENANT_ID, "alice", "high")]
        low = [(m.type, d)
               for m, d in people_service.reachable(s, DEFAULT_TENANT_ID, "alice", "low")]
        assert people_service.reachable(s, DEFAULT_TENANT_ID, "ghost", "high") == []
    assert high == [("slack", "U012ABCDEF", 0), ("sms", "+4915112345678", 5),
                    ("email", "alice@example.com", 15)]
    assert low == [("email", 0)]


PEOPLE_YAML = """\
kind: Service
name: checkout
team: sre
runbook_links: [{title: Runbook, url: "https://wiki.example.com/checkout"}]
---
kind: Team
name: sre
description: site reliability
members: [alice, bob]
escalation_policy: default
---
kind: User
username: alice
name: Alice Example
email: alice@example.com
time_zone: Europe/Berlin
role: admin
contact_methods:
  - {type: sms, address: "+4915112345678", label: mobile}
  - {type: slack, address: U012ABCDEF}
  - {type: email, address: alice@example.com}
  - {type: email, address: alice@home.example.com}
notification_rules:
  - {contact: slack, urgency: high}
  - {contact: mobile, urgency: high, delay_minutes: 5}
  - {contact: alice@home.example.com, urgency: low, delay_minutes: 30}
---
kind: User
username: bob
name: Bob
email: bob@example.com
"""


def test_yaml_apply_is_idempotent_and_export_round_trips(vigil: Harness,
                                                         tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "people.yaml").write_text(PEOPLE_YAML)
    docs = configfiles.load([folder])
    now = vigil.clock.now()
    with vigil.ctx.db.write() as s:  # the service and team come before their references
        assert [(k, o) for k, _, o in configfiles.apply(s, docs, tenant_id=DEFAULT_TENANT_ID,
                                                        now=now)] == [
            ("Service", "created"), ("Team", "created"), ("User", "created"),
            ("User", "created")]
    with vigil.ctx.db.write() as s:
        assert {o for _, _, o in configfiles.apply(s, docs, tenant_id=DEFAULT_TENANT_ID,
                                                   now=now)} == {"unchanged"}
    with vigil.ctx.db.read() as s:
        high = [(m.type, d)
                for m, d in people_service.reachable(s, DEFAULT_TENANT_ID, "alice", "high")]
        low = [(m.address, d)
               for m, d in people_service.reachable(s, DEFAULT_TENANT_ID, "alice", "low")]
        text = configfiles.export(s, tenant_id=DEFAULT_TENANT_ID)
    assert high == [("slack", 0), ("sms", 5)]
    assert low == [("alice@home.example.com", 30)]
    alice = next(u for u in vigil.client.get(USERS, headers=vigil.auth).json()
                 if u["username"] == "alice")
    assert alice["warnings"] == [] and alice["time_zone"] == "Europe/Berlin"
    assert "kind: User" in text and "kind: Team" in text and "kind: Service" in text
    (folder / "people.yaml").write_text(text)
    with vigil.ctx.db.write() as s:
        assert {o for _, _, o in configfiles.apply(s, configfiles.load([folder]),
                                                   tenant_id=DEFAULT_TENANT_ID, now=now)} == {
            "unchanged"}
    # A change is applied to that object only.
    (folder / "people.yaml").write_text(PEOPLE_YAML.replace("delay_minutes: 5",
                                                            "delay_minutes: 10"))
    with vigil.ctx.db.write() as s:
        assert [o for _, _, o in configfiles.apply(s, configfiles.load([folder]),
                                                   tenant_id=DEFAULT_TENANT_ID, now=now)] == [
            "unchanged", "unchanged", "updated", "unchanged"]
    with vigil.ctx.db.read() as s:
        assert [d for _, d in people_service.reachable(s, DEFAULT_TENANT_ID, "alice",
                                                       "high")] == [0, 10]


def test_yaml_refuses_bad_documents_and_changes_nothing(vigil: Harness,
                                                       tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: User\nusername: alice\nname: A\nemail: a@example.com\n"
                   "contact_methods: [{type: sms, address: '+4915112345678'}]\n"
                   "notification_rules: [{contact: pager}]\n")
    with pytest.raises(InvalidInput) as caught:
        configfiles.load([bad])
    assert caught.value.field == "bad.yaml#1.notification_rules[0].contact"
    bad.write_text("kind: User\nusername: alice\nname: A\nemail: a@example.com\n"
                   "time_zone: Mars/Olympus\n")
    with pytest.raises(InvalidInput, match="Mars/Olympus") as caught:
        configfiles.load([bad])
    assert caught.value.field == "bad.yaml#1.time_zone"
    bad.write_text("kind: User\nusername: alice\nname: A\nemail: a@example.com\n---\n"
                   "kind: Team\nname: sre\nmembers: [alice, ghost]\n")
    docs = configfiles.load([bad])
    with pytest.raises(InvalidInput, match="ghost") as caught, vigil.ctx.db.write() as s:
        configfiles.apply(s, docs, tenant_id=DEFAULT_TENANT_ID, now=vigil.clock.now())
    assert caught.value.field == "members[1]"
    assert vigil.client.get(USERS, headers=vigil.auth).json() == []
    assert vigil.client.get(TEAMS, headers=vigil.auth).json() == []


def test_admin_sets_a_password_and_the_person_signs_in(vigil: Harness) -> None:
    made = vigil.client.post("/api/v1/users", headers=vigil.auth, json={
        "username": "dora", "name": "Dora", "email": "dora@example.com"})
    assert made.status_code == 201, made.text
    uid = made.json()["id"]
    short = vigil.client.put(f"/api/v1/users/{uid}/password", headers=vigil.auth,
                             json={"password": "short"})
    assert short.status_code == 422 and short.json()["error"]["field"] == "password"
    ok = vigil.client.put(f"/api/v1/users/{uid}/password", headers=vigil.auth,
                          json={"password": "a-long-password"})
    assert ok.status_code == 204
    viewer = {"Authorization": f"Bearer {vigil.key_for('viewer')}"}
    assert vigil.client.put(f"/api/v1/users/{uid}/password", headers=viewer,
                            json={"password": "a-long-password"}).status_code == 403
    signed = vigil.client.post("/login", data={"username": "dora",
                                               "password": "a-long-password"},
                               follow_redirects=False)
    assert signed.status_code == 303 and "vigil_session" in signed.cookies
