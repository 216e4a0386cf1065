"""On-call schedules through the API on both databases: definitions, overrides, swaps,
queries, iCalendar feeds and import, YAML, the scheduler's handoff helper and the CLI.

The clock stands at Sunday 2026-03-01 12:00 UTC. ``primary`` hands off daily at 09:00 UTC
from Friday 2026-02-27 in the order alice, bob, carol: bob has Feb 28, carol Mar 1 (until
Mar 2 09:00), alice Mar 2, bob Mar 3. ``secondary`` hands off weekly on Mondays at 09:00
Berlin time (08:00 UTC in winter) from Feb 23: dave, then bob from Mar 2 08:00 UTC.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from typer.testing import CliRunner

from conftest import Harness
from oncall_people import add_users
from vigil import configfiles
from vigil.cli import app as vigil_cli
from vigil.db import Database
from vigil.errors import InvalidInput
from vigil.oncall.cli import oncall
from vigil.oncall.schedules import service as svc
from vigil.oncall.schedules.definition import Shift
from vigil.oncall.schedules.ical import export_ics, import_ics
from vigil.tenants.models import DEFAULT_TENANT_ID

BASE = "/api/v1/schedules"
USERS = ("alice", "bob", "carol", "dave")


def u(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def body(name: str = "primary", participants: tuple[str, ...] = ("alice", "bob", "carol"),
         **extra: Any) -> dict[str, Any]:
    return {"name": name, "time_zone": "UTC",
            "layers": [{"name": "daily", "rotation": {
                "type": "daily", "start": "2026-02-27T09:00",
                "participants": list(participants)}}], **extra}


SECONDARY = {"name": "secondary", "time_zone": "Europe/Berlin",
             "layers": [{"rotation": {"type": "weekly", "start": "2026-02-23",
                                      "handoff": "09:00", "participants": ["dave", "bob"]}}]}


@pytest.fixture
def users(vigil: Harness) -> dict[str, tuple[int, str]]:
    return add_users(vigil.ctx.db, vigil.clock.now(), *USERS)


def call(h: Harness, method: str, path: str, expect: int, **kwargs: Any) -> Any:
    resp = h.client.request(method, path, headers=kwargs.pop("headers", h.auth), **kwargs)
    assert resp.status_code == expect, resp.text
    return resp.json() if resp.content and "json" in resp.headers["content-type"] else resp


def create(h: Harness, data: dict[str, Any]) -> dict[str, Any]:
    made: dict[str, Any] = call(h, "POST", BASE, 201, json=data)
    return made


def on_call(h: Harness, at: str) -> dict[str, list[str]]:
    got = call(h, "GET", "/api/v1/oncall", 200, params={"at": at})
    return {s["name"]: s["on_call"] for s in got["schedules"]}


def error_field(h: Harness, method: str, path: str, status: int, **kwargs: Any) -> str:
    field: str = call(h, method, path, status, **kwargs)["error"]["field"]
    return field


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


def test_overrides_change_who_is_on_call(vigil: Harness, users: Any) -> None:
    sid = create(vigil, body())["id"]
    path = f"{BASE}/{sid}/overrides"
    day = {"start": "2026-03-01T11:00:00Z", "end": "2026-03-01T15:00:00Z"}
    made = call(vigil, "POST", path, 201, json={"type": "replace", "user": "dave", **day})
    assert made == {"index": 0, "type": "replace", "user": "dave", **day, "warnings": []}
    got = call(vigil, "GET", f"{BASE}/{sid}", 200)
    assert got["on_call_now"] == ["dave"]
    assert got["overrides"] == [{"type": "replace", "user": "dave", **day}]
    assert got["next_handoff"] == {"at": "2026-03-01T15:00:00Z", "before": ["dave"],
                                   "after": ["carol"]}
    added = call(vigil, "POST", path, 201, json={
        "type": "add", "user": "bob", "start": "2026-03-01T10:00:00Z",
        "end": "2026-03-01T13:00:00Z"})
    assert added["index"] == 1
    assert on_call(vigil, "2026-03-01T12:00:00Z") == {"primary": ["bob", "dave"]}
    call(vigil, "DELETE", f"{path}/0", 204)  # the replace goes; the add is now index 0
    assert on_call(vigil, "2026-03-01T12:00:00Z") == {"primary": ["bob", "carol"]}
    call(vigil, "POST", path, 201, json={"type": "remove", "user": "carol", **day})
    assert on_call(vigil, "2026-03-01T12:00:00Z") == {"primary": ["bob"]}
    assert on_call(vigil, "2026-03-01T14:00:00Z") == {"primary": []}
    assert [o["type"] for o in call(vigil, "GET", f"{BASE}/{sid}", 200)["overrides"]] == [
        "add", "remove"]
    call(vigil, "DELETE", f"{path}/2", 404)
    call(vigil, "POST", f"{BASE}/999/overrides", 404, json={"type": "add", "user": "bob", **day})
    for bad, field in [({"type": "replace", "user": "dave", "start": day["end"],
                         "end": day["start"]}, "end"),
                       ({"type": "add", "user": "zed", **day}, "user"),
                       ({"type": "replace", "user": "dave", "replaces": "zed", **day},
                        "replaces"),
                       ({"type": "swap", "user": "dave", **day}, "type"),
                       ({"type": "add", "user": "dave", "start": "2026-03-01T11:00",
                         "end": day["end"]}, "start"),
                       ({"type": "add", "user": "dave", "colour": "red", **day}, "colour")]:
        assert error_field(vigil, "POST", path, 422, json=bad) == field
    assert len(call(vigil, "GET", f"{BASE}/{sid}", 200)["overrides"]) == 2


def override(kind: str, user: str, start: int, end: int, **extra: Any) -> dict[str, Any]:
    """An override on Sunday 2026-03-01 from ``start`` to ``end`` o'clock UTC."""
    return {"type": kind, "user": user, "start": f"2026-03-01T{start:02}:00:00Z",
            "end": f"2026-03-01T{end:02}:00:00Z", **extra}


@pytest.mark.parametrize(("first", "second", "message"), [
    # the same override again
    (override("add", "dave", 10, 14), override("add", "dave", 10, 14),
     "this override duplicates overrides[0] (add dave, 2026-03-01T10:00:00Z to "
     "2026-03-01T14:00:00Z)"),
    # a later replace decides alone wherever it applies, whoever it names
    (override("replace", "dave", 10, 14), override("replace", "bob", 9, 15),
     "overrides[0] (replace everyone by dave, 2026-03-01T10:00:00Z to 2026-03-01T14:00:00Z) "
     "changes nothing at all: this override covers its whole interval and, coming later, "
     "decides alone; delete overrides[0] first"),
    (override("add", "dave", 10, 14), override("replace", "dave", 10, 14),
     "overrides[0] (add dave, "),
    (override("add", "dave", 10, 14), override("remove", "dave", 8, 16),
     "overrides[0] (add dave, "),
    # the same person added again over a longer stretch
    (override("add", "dave", 11, 12), override("add", "dave", 10, 14), "overrides[0] (add"),
    # an earlier override leaves the new one nothing to change
    (override("add", "dave", 9, 15), override("add", "dave", 10, 14),
     "this override changes nothing at all: overrides[0] (add dave, 2026-03-01T09:00:00Z to "
     "2026-03-01T15:00:00Z) covers its whole interval and, coming first, leaves it nothing "
     "to change"),
    (override("remove", "alice", 9, 15), override("replace", "dave", 10, 14,
                                                  replaces="alice"),
     "this override changes nothing at all: overrides[0] (remove alice, "),
])
def test_an_override_that_duplicates_or_shadows_another_is_a_conflict(
        vigil: Harness, users: Any, first: dict[str, Any], second: dict[str, Any],
        message: str) -> None:
    sid = create(vigil, body())["id"]
    path = f"{BASE}/{sid}/overrides"
    call(vigil, "POST", path, 201, json=first)
    error = call(vigil, "POST", path, 409, json=second)["error"]
    assert error["field"] == "overrides[0]" and error["code"] == "conflict"
    assert error["message"].startswith(message), error["message"]
    other = {k: v for k, v in error["details"][0].items() if v is not None}
    assert other == {"field": "overrides[0]", "index": 0, **first}
    assert call(vigil, "GET", f"{BASE}/{sid}", 200)["overrides"] == [first]  # nothing saved
    # In a definition, the later of the two is refused naming the earlier one.
    refused = call(vigil, "PUT", f"{BASE}/{sid}", 409, json=body(overrides=[
        override("add", "bob", 1, 2), first, second]))["error"]
    assert refused["field"] == "overrides[1]" and "overrides[2] (" in refused["message"]
    assert call(vigil, "POST", BASE, 409, json=body("other", overrides=[first, second])
                )["error"]["field"] == "overrides[0]"
    assert call(vigil, "GET", f"{BASE}/{sid}", 200)["overrides"] == [first]


def test_a_partial_overlap_is_accepted_with_a_warning(vigil: Harness, users: Any) -> None:
    sid = create(vigil, body())["id"]
    path = f"{BASE}/{sid}/overrides"
    assert call(vigil, "POST", path, 201, json=override("add", "dave", 10, 14))["warnings"] == []
    made = call(vigil, "POST", path, 201, json=override("replace", "bob", 12, 16))
    assert made["index"] == 1
    assert made["warnings"] == [
        "overrides[0] (add dave, 2026-03-01T10:00:00Z to 2026-03-01T14:00:00Z) changes "
        "nothing from 2026-03-01T12:00:00Z to 2026-03-01T14:00:00Z: this override, coming "
        "later, decides alone there"]
    # Overlaps that compose are no shadows: two people added, an add on top of a replace.
    assert call(vigil, "POST", path, 201, json=override("add", "alice", 9, 17))[
        "warnings"] == []
    late = call(vigil, "POST", path, 201, json=override("add", "dave", 13, 18))
    assert late["warnings"] == [
        "overrides[0] (add dave, 2026-03-01T10:00:00Z to 2026-03-01T14:00:00Z) changes "
        "nothing from 2026-03-01T13:00:00Z to 2026-03-01T14:00:00Z: this override, coming "
        "later, decides alone there"]
    assert call(vigil, "POST", path, 201, json=override("remove", "carol", 16, 18))[
        "warnings"] == []
    moot = call(vigil, "POST", path, 201, json=override("replace", "dave", 17, 19,
                                                          replaces="carol"))
    assert moot["warnings"] == [
        "this override changes nothing from 2026-03-01T17:00:00Z to 2026-03-01T18:00:00Z: "
        "overrides[4] (remove carol, 2026-03-01T16:00:00Z to 2026-03-01T18:00:00Z), coming "
        "first, leaves it nothing to change there"]
    assert on_call(vigil, "2026-03-01T13:30:00Z") == {"primary": ["alice", "bob", "dave"]}
    got = call(vigil, "GET", f"{BASE}/{sid}", 200)
    assert len(got["overrides"]) == 6 and len(got["warnings"]) == 3
    assert got["warnings"][0].startswith("overrides[0] (add dave") and "overrides[1] (" in \
        got["warnings"][0]
    # A definition with a partial overlap is accepted too, and says so.
    other = create(vigil, body("other", overrides=[override("add", "dave", 10, 14),
                                                   override("remove", "dave", 12, 16)]))
    assert other["warnings"] == [
        "overrides[0] (add dave, 2026-03-01T10:00:00Z to 2026-03-01T14:00:00Z) changes nothing "
        "from 2026-03-01T12:00:00Z to 2026-03-01T14:00:00Z: overrides[1] (remove dave, "
        "2026-03-01T12:00:00Z to 2026-03-01T16:00:00Z), coming later, decides alone there"]


def test_yaml_refuses_overrides_that_shadow_each_other(vigil: Harness, users: Any,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text(yaml.safe_dump({"kind": "Schedule", **body(overrides=[
        override("replace", "dave", 10, 14), override("replace", "bob", 10, 14)])}))
    with pytest.raises(InvalidInput) as refused:
        configfiles.load([path])
    assert refused.value.field == "schedules.yaml#1.overrides[0]"
    assert "overrides[0] (replace everyone by dave, " in refused.value.message


def test_yaml_checks_the_users_a_schedule_names_when_it_commits(
        vigil: Harness, users: Any, tmp_path: Path) -> None:
    db, now = vigil.ctx.db, vigil.clock.now()

    def apply(*docs: dict[str, Any]) -> list[tuple[str, str, str]]:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
        with db.write() as s:
            return configfiles.apply(s, configfiles.load([path]), tenant_id=DEFAULT_TENANT_ID,
                                     now=now)

    erin = {"kind": "User", "username": "erin", "name": "Erin", "email": "erin@example.com"}
    schedule = {"kind": "Schedule", **body(participants=("alice", "erin"))}
    with pytest.raises(InvalidInput) as refused:
        apply(schedule)
    assert refused.value.field == "layers[0].rotation.participants[1]"
    assert "Schedule 'primary'" in refused.value.message and "'erin'" in refused.value.message
    assert call(vigil, "GET", BASE, 200) == []  # nothing was applied
    # A user defined later in the same run is fine.
    assert apply(schedule, erin) == [("Schedule", "primary", "created"),
                                     ("User", "erin", "created")]


def test_swaps_follow_the_state_machine(vigil: Harness, users: Any) -> None:
    sid = create(vigil, body())["id"]
    swaps = f"{BASE}/{sid}/swaps"
    made = call(vigil, "POST", swaps, 201, json={
        "requester": "carol", "counterpart": "dave", "start": "2026-03-01T09:00:00Z",
        "end": "2026-03-02T09:00:00Z"})
    assert made["state"] == "requested" and made["id"].startswith("swap-")
    assert on_call(vigil, "2026-03-01T12:00:00Z") == {"primary": ["carol"]}
    one = f"{swaps}/{made['id']}"
    assert error_field(vigil, "POST", f"{one}/accept", 403, json={"by": "bob"}) == "by"
    assert error_field(vigil, "POST", f"{one}/cancel", 403, json={"by": "dave"}) == "by"
    assert error_field(vigil, "POST", f"{one}/accept", 422, json={}) == "by"
    accepted = call(vigil, "POST", f"{one}/accept", 200, json={"by": "dave"})
    assert accepted == {**made, "state": "accepted"}
    assert on_call(vigil, "2026-03-01T12:00:00Z") == {"primary": ["dave"]}
    assert on_call(vigil, "2026-03-02T09:00:00Z") == {"primary": ["alice"]}
    call(vigil, "POST", f"{one}/accept", 409, json={"by": "dave"})
    call(vigil, "POST", f"{one}/cancel", 409, json={"by": "carol"})

    trade = {"requester": "alice", "counterpart": "bob", "start": "2026-03-02T09:00:00Z",
             "end": "2026-03-03T09:00:00Z", "return_start": "2026-03-03T09:00:00Z",
             "return_end": "2026-03-04T09:00:00Z"}
    declined = call(vigil, "POST", swaps, 201, json=trade)
    got = call(vigil, "POST", f"{swaps}/{declined['id']}/decline", 200, json={"by": "bob"})
    assert got["state"] == "declined"
    assert on_call(vigil, "2026-03-02T10:00:00Z") == {"primary": ["alice"]}
    cancelled = call(vigil, "POST", swaps, 201, json=trade)
    got = call(vigil, "POST", f"{swaps}/{cancelled['id']}/cancel", 200, json={"by": "alice"})
    assert got["state"] == "cancelled"
    traded = call(vigil, "POST", swaps, 201, json=trade)
    call(vigil, "POST", f"{swaps}/{traded['id']}/accept", 200, json={"by": "bob"})
    assert on_call(vigil, "2026-03-02T10:00:00Z") == {"primary": ["bob"]}
    assert on_call(vigil, "2026-03-03T10:00:00Z") == {"primary": ["alice"]}

    call(vigil, "POST", f"{swaps}/swap-nope/accept", 404, json={"by": "dave"})
    call(vigil, "POST", f"{one}/approve", 404, json={"by": "dave"})
    assert error_field(vigil, "POST", swaps, 422, json={**trade, "state": "accepted"}) == "state"
    assert error_field(vigil, "POST", swaps, 422, json={**trade, "counterpart": "zed"}) == \
        "counterpart"
    assert error_field(vigil, "POST", swaps, 422, json={**trade, "counterpart": "alice"}) == \
        "counterpart"
    states = [s["state"] for s in call(vigil, "GET", f"{BASE}/{sid}", 200)["swaps"]]
    assert states == ["accepted", "declined", "cancelled", "accepted"]


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


def test_ical_feeds(vigil: Harness, users: dict[str, tuple[int, str]]) -> None:
    made = create(vigil, body())
    create(vigil, {**SECONDARY, "time_zone": "UTC", "layers": [{"rotation": {
        "type": "daily", "start": "2026-03-02T09:00", "participants": ["alice", "dave"]}}]})
    url = urlsplit(made["ical_url"])
    feed = f"{url.path}?{url.query}"
    for wrong in (f"{url.path}?token=nope", url.path, f"{BASE}/999/shifts.ics?token=x"):
        assert vigil.client.get(wrong).status_code == 404
    resp = vigil.client.get(feed)  # no API key
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/calendar")
    assert resp.text.count("BEGIN:VEVENT") == 92
    events = import_ics(resp.content)
    # bob's shift still running at midnight keeps its start; then 90 days and a bit.
    assert events[:2] == [Shift("bob", datetime(2026, 2, 28, 9, tzinfo=UTC), u(1, 9)),
                          Shift("carol", u(1, 9), u(2, 9))]
    assert events[-1] == Shift("carol", datetime(2026, 5, 30, 9, tzinfo=UTC),
                               datetime(2026, 5, 31, tzinfo=UTC))
    assert vigil.client.get(feed).content == resp.content  # stable within the day

    alice_id, alice_token = users["alice"]
    path = f"/api/v1/users/{alice_id}/shifts.ics"
    assert vigil.client.get(path, params={"token": users["bob"][1]}).status_code == 404
    assert vigil.client.get("/api/v1/users/999/shifts.ics?token=x").status_code == 404
    mine = import_ics(vigil.client.get(path, params={"token": alice_token}).content)
    # primary has alice on Mar 2, 5, 8, ...; secondary on Mar 2, 4, 6, 8, ... (09:00 to
    # 09:00): overlapping and back-to-back days are one event.
    assert {s.user for s in mine} == {"alice"}
    assert mine[:3] == [Shift("alice", u(2, 9), u(3, 9)), Shift("alice", u(4, 9), u(7, 9)),
                        Shift("alice", u(8, 9), u(9, 9))]


def test_import_a_calendar_as_a_temporary_schedule(vigil: Harness, users: Any) -> None:
    sid = create(vigil, body())["id"]
    ics = export_ics("holiday cover", [Shift("dave", u(1, 10), u(1, 14)),
                                       Shift("bob", u(1, 14), u(1, 18))])
    made = call(vigil, "POST", f"{BASE}/{sid}/import", 201, content=ics,
                headers={**vigil.auth, "Content-Type": "text/calendar"})
    assert (made["index"], made["start"], made["end"]) == (0, "2026-03-01T10:00:00Z",
                                                           "2026-03-01T18:00:00Z")
    assert [s["user"] for s in made["shifts"]] == ["dave", "bob"]
    assert [on_call(vigil, f"2026-03-01T{h:02}:00:00Z")["primary"] for h in (9, 12, 15, 18)] == [
        ["carol"], ["dave"], ["bob"], ["carol"]]
    later = export_ics("x", [Shift("alice", u(5, 0), u(5, 6))]).decode()
    assert call(vigil, "POST", f"{BASE}/{sid}/import", 201, json={"ics": later})["index"] == 1
    assert on_call(vigil, "2026-03-05T03:00:00Z") == {"primary": ["alice"]}
    stranger = export_ics("x", [Shift("zed", u(6, 0), u(6, 6))])
    for bad in (b"hello", stranger, export_ics("empty", [])):
        assert error_field(vigil, "POST", f"{BASE}/{sid}/import", 422, content=bad,
                           headers={**vigil.auth, "Content-Type": "text/calendar"}) == "ics"
    assert error_field(vigil, "POST", f"{BASE}/{sid}/import", 422, json={"ics": 1}) == "ics"
    assert len(call(vigil, "GET", f"{BASE}/{sid}", 200)["temporary"]) == 2


def test_yaml_round_trip(vigil: Harness, users: Any, tmp_path: Path) -> None:
    sid = create(vigil, body())["id"]
    call(vigil, "POST", f"{BASE}/{sid}/overrides", 201, json={
        "type": "add", "user": "dave", "start": "2026-03-01T11:00:00Z",
        "end": "2026-03-01T15:00:00Z"})
    db, now = vigil.ctx.db, vigil.clock.now()

    def apply(docs: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        path = tmp_path / "schedules.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        loaded = configfiles.load([path])
        with db.write() as s:
            return configfiles.apply(s, loaded, tenant_id=DEFAULT_TENANT_ID, now=now)

    with db.read() as s:
        text = configfiles.export(s, tenant_id=DEFAULT_TENANT_ID)
    (doc,) = [d for d in yaml.safe_load_all(text) if d["kind"] == "Schedule"]
    assert doc["name"] == "primary" and doc["overrides"][0]["user"] == "dave"
    assert apply([doc]) == [("Schedule", "primary", "unchanged")]

    written = yaml.safe_load("""
kind: Schedule
name: primary
time_zone: UTC
layers:
  - name: daily
    rotation: {type: daily, start: 2026-02-27 09:00:00, participants: [bob, carol, alice]}
""")  # YAML reads the start as a datetime; the override made through the API stays
    third = {"kind": "Schedule", **copy.deepcopy(SECONDARY), "name": "third"}
    assert apply([written, third]) == [("Schedule", "primary", "updated"),
                                       ("Schedule", "third", "created")]
    assert apply([written, third]) == [("Schedule", "primary", "unchanged"),
                                       ("Schedule", "third", "unchanged")]
    got = call(vigil, "GET", f"{BASE}/{sid}", 200)
    assert got["on_call_now"] == ["alice", "dave"] and len(got["overrides"]) == 1
    assert got["layers"][0]["rotation"]["start"] == "2026-02-27T09:00:00"
    bad = {**written, "time_zone": "Mars/Olympus"}
    with pytest.raises(InvalidInput) as refused:
        apply([bad])
    assert refused.value.field == "schedules.yaml#1.time_zone"


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


def test_cli_oncall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("VIGIL_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(vigil_cli, ["migrate"]).exit_code == 0
    cli = typer.Typer()
    cli.command()(oncall)
    assert runner.invoke(cli, []).output.strip() == "no schedules"
    db = Database(url)
    now = u(1, 12)
    add_users(db, now, *USERS)
    with db.write() as s:
        svc.create_schedule(s, tenant_id=DEFAULT_TENANT_ID, data=body(), now=now)
        svc.create_schedule(s, tenant_id=DEFAULT_TENANT_ID, data=SECONDARY, now=now)
    db.dispose()
    result = runner.invoke(cli, ["--at", "2026-03-01T12:00:00Z"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "on call at 2026-03-01T12:00:00Z",
        "SCHEDULE   ON CALL NOW  NEXT HANDOFF",
        "primary    carol        2026-03-02 09:00:00 UTC -> alice",
        "secondary  dave         2026-03-02 08:00:00 UTC -> bob"]
    bad = runner.invoke(cli, ["--at", "2026-03-01T12:00:00"])
    assert bad.exit_code == 2 and "timezone-aware" in bad.output
