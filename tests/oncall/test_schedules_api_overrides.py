"""On-call schedule overrides and swaps through the API on both databases: overrides change
who is on call, duplicates and shadows conflict, partial overlaps warn, swaps follow their
state machine.

The clock stands at Sunday 2026-03-01 12:00 UTC. ``primary`` hands off daily at 09:00 UTC
from Friday 2026-02-27 in the order alice, bob, carol: bob has Feb 28, carol Mar 1 (until
Mar 2 09:00), alice Mar 2, bob Mar 3. ``secondary`` hands off weekly on Mondays at 09:00
Berlin time (08:00 UTC in winter) from Feb 23: dave, then bob from Mar 2 08:00 UTC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from schedule_requests import (
    BASE,
    body,
    call,
    create,
    error_field,
    on_call,
    override,
    users_fixture,  # noqa: F401  (the users fixture)
)

from conftest import Harness
from vigil import configfiles
from vigil.errors import InvalidInput


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
