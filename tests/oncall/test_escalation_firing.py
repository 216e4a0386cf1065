"""The pure escalation core, firing: steps on time, catch-up after downtime, repeats,
targets and schedules resolved at each step's due time, round robin, state serialization,
active hours across DST, and (property) each step firing at most once in order.
Callbacks are plain functions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from escalation_cases import (
    RESOLVER,
    T0,
    at,
    policy,
    run,
    user,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import InvalidInput
from vigil.oncall.escalation.policy import (
    ActiveWindow,
    EscalationState,
    Notify,
    Policy,
    Status,
    Step,
    Target,
    TargetKind,
    Urgency,
    acknowledge,
    due,
    next_due,
    reassign,
    start,
)


def fired_steps(notes: list[Notify]) -> list[tuple[int, int]]:
    return [(n.step_index, n.repeat) for n in notes]


# ---------------------------------------------------------------- firing and catch-up


@pytest.mark.parametrize(("now", "expected", "next_at"), [
    (-1, [], 0),
    (0, [0], 5),
    (4.99, [0], 5),
    (5, [0, 1], 15),
    (14, [0, 1], 15),
    (15, [0, 1, 2], None),
    (600, [0, 1, 2], None),
])
def test_steps_fire_on_time(now: float, expected: list[int], next_at: float | None) -> None:
    pol = policy(0, 5, 10)
    state, notes = run(pol, start(pol, T0), now)
    assert [n.step_index for n in notes] == expected
    assert [n.user_id for n in notes] == [f"u{i}" for i in expected]
    assert next_due(state) == (None if next_at is None else at(next_at))
    assert state.status is (Status.EXHAUSTED if len(expected) == 3 else Status.ACTIVE)


def test_incremental_calls_fire_each_step_once_at_its_due_time() -> None:
    pol = policy(0, 5, 10)
    state = start(pol, T0)
    seen: list[tuple[int, datetime]] = []
    for minute in (0, 1, 5, 5, 6, 15, 20):
        state, notes = run(pol, state, minute)
        seen += [(n.step_index, n.due_at) for n in notes]
    assert seen == [(0, at(0)), (1, at(5)), (2, at(15))]


def test_catch_up_after_downtime_fires_overdue_steps_in_order_once() -> None:
    pol = policy(1, 5, 10, repeat=1)
    state = start(pol, T0)
    state, notes = run(pol, state, 100)  # the scheduler was down for 100 minutes
    assert fired_steps(notes) == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    # each intent carries its own step's due time, not the catch-up instant
    assert [n.due_at for n in notes] == [at(m) for m in (1, 6, 16, 17, 22, 32)]
    assert [f.fired_at for f in state.fired] == [at(100)] * 6
    assert state.status is Status.EXHAUSTED
    again, more = run(pol, state, 100)
    assert more == [] and again == state


@pytest.mark.parametrize("calls", [[3, 3, 3], [10, 10], [0, 0, 7, 7, 7]])
def test_never_fires_twice_with_the_same_now(calls: list[int]) -> None:
    pol = policy(0, 5, 10)
    state = start(pol, T0)
    keys: list[str] = []
    for minute in calls:
        state, notes = run(pol, state, minute)
        keys += [n.key("inc-1") for n in notes]
    assert len(keys) == len(set(keys))


def test_due_with_an_earlier_now_does_nothing() -> None:
    pol = policy(0, 5)
    state, _ = run(pol, start(pol, T0), 6)
    assert run(pol, state, 1) == (state, [])


@pytest.mark.parametrize("repeat", [0, 1, 2, 5])
def test_repeat_n_times_then_exhausted(repeat: int) -> None:
    pol = policy(2, 3, repeat=repeat)
    state, notes = run(pol, start(pol, T0), 10_000)
    assert fired_steps(notes) == [(s, r) for r in range(repeat + 1) for s in (0, 1)]
    assert state.status is Status.EXHAUSTED and next_due(state) is None
    assert run(pol, state, 20_000)[1] == []


# ---------------------------------------------------------------- targets


def test_targets_resolve_to_people_and_channels() -> None:
    pol = Policy("mix", (Step(timedelta(0), (
        Target(TargetKind.SCHEDULE, "primary"), Target(TargetKind.TEAM, "dbas"),
        user("alice"),  # already reached through the team: notified once
        Target(TargetKind.SLACK_CHANNEL, "#ops"), Target(TargetKind.WEBHOOK, "hook-1"),
        Target(TargetKind.TEAM, "nobody-here")), urgency=Urgency.LOW),))
    state, notes = run(pol, start(pol, T0), 0)
    assert [(n.target_kind, n.target_id, n.user_id) for n in notes] == [
        ("schedule", "primary", "anna"), ("team", "dbas", "alice"), ("team", "dbas", "bob"),
        ("slack_channel", "#ops", None), ("webhook", "hook-1", None)]
    assert {n.urgency for n in notes} == {"low"}
    assert state.fired[0].persons == ("anna", "alice", "bob")


def test_schedules_are_resolved_at_each_steps_due_time_during_catch_up() -> None:
    primary = (Target(TargetKind.SCHEDULE, "primary"),)
    pol = policy(0, 15, targets=primary)  # step 1 is due after the 12:10 handoff
    _, notes = run(pol, start(pol, T0), 60)
    assert [(n.step_index, n.user_id) for n in notes] == [(0, "anna"), (1, "nick")]


def test_idempotency_key_names_incident_epoch_step_repeat_target_and_person() -> None:
    pol = policy(0, targets=(Target(TargetKind.TEAM, "dbas"),
                             Target(TargetKind.SLACK_CHANNEL, "#ops")))
    _, notes = run(pol, start(pol, T0), 0)
    assert [n.key("inc-9") for n in notes] == [
        "inc-9:0:0:0:team:dbas:alice", "inc-9:0:0:0:team:dbas:bob",
        "inc-9:0:0:0:slack_channel:#ops:-"]


def roundtrip(state: EscalationState) -> EscalationState:
    return EscalationState.from_dict(json.loads(json.dumps(state.to_dict())))


def test_round_robin_advances_per_firing_and_survives_serialization() -> None:
    rr = Target(TargetKind.ROUND_ROBIN, users=("ann", "ben", "cat"))
    pol = Policy("rr", (Step(timedelta(minutes=1), (rr, Target(TargetKind.SLACK_CHANNEL, "#x"))),
                        Step(timedelta(minutes=1), (user("boss"),))), repeat=4)
    state = start(pol, T0)
    picked: list[str | None] = []
    for minute in range(1, 12):
        state = roundtrip(state)
        state, notes = run(pol, state, minute)
        picked += [n.user_id for n in notes if n.target_kind == "round_robin"]
    assert picked == ["ann", "ben", "cat", "ann", "ben"]
    assert state.round_robin == {"0.0": 2}
    # a new incident starts its own rotation; a reassignment to the same policy keeps it
    again = reassign(pol, state, at(20))
    _, notes = run(pol, again, 21)
    assert [n.user_id for n in notes if n.target_kind == "round_robin"] == ["cat"]
    _, notes = run(pol, start(pol, at(30)), 31)
    assert [n.user_id for n in notes if n.target_kind == "round_robin"] == ["ann"]


def test_state_round_trips_through_json() -> None:
    pol = policy(0, 5, ack_timeout=30)
    state, _ = run(pol, start(pol, T0), 7)
    state = acknowledge(pol, state, "u1", at(8))
    assert roundtrip(state) == state
    assert json.loads(json.dumps(state.to_dict()))["status"] == "acknowledged"


@pytest.mark.parametrize(("damage", "field"), [
    ({"version": 99}, "version"),
    ({"status": "sleeping"}, "status"),
    ({"next_due_at": "yesterday"}, "next_due_at"),
    ({"next_due_at": "2024-01-10T12:00:00"}, "next_due_at"),  # naive
    ({"step": -1}, "step"),
    ({"round_robin": {"0.0": "x"}}, "round_robin.0.0"),
    ({"fired": [{"epoch": 0, "step": 0, "repeat": 0, "due_at": "bad"}]}, "fired[0].due_at"),
])
def test_damaged_state_names_the_field(damage: dict[str, Any], field: str) -> None:
    pol = policy(0, 5)
    raw = start(pol, T0).to_dict() | damage
    with pytest.raises(InvalidInput) as err:
        EscalationState.from_dict(raw)
    assert err.value.field == field


# ---------------------------------------------------------------- active hours and DST


def windowed(trigger: datetime) -> tuple[Policy, EscalationState]:
    office = ActiveWindow(time(9), time(18), "Europe/Berlin")
    pol = Policy("office", (Step(timedelta(0), (user("day"),), active_between=office),
                            Step(timedelta(minutes=5), (user("backup"),))))
    return pol, start(pol, trigger)


@pytest.mark.parametrize(("trigger", "inside"), [
    (datetime(2024, 1, 10, 8, 0, tzinfo=UTC), True),     # 09:00 CET, start inclusive
    (datetime(2024, 1, 10, 16, 59, tzinfo=UTC), True),   # 17:59 CET
    (datetime(2024, 1, 10, 17, 0, tzinfo=UTC), False),   # 18:00 CET, end exclusive
    (datetime(2024, 3, 30, 7, 30, tzinfo=UTC), False),   # Sat 08:30 CET
    (datetime(2024, 3, 31, 7, 30, tzinfo=UTC), True),    # Sun 09:30 CEST (after spring)
    (datetime(2024, 3, 31, 6, 30, tzinfo=UTC), False),   # 08:30 CEST
    (datetime(2024, 10, 26, 16, 30, tzinfo=UTC), False),  # Sat 18:30 CEST
    (datetime(2024, 10, 27, 16, 30, tzinfo=UTC), True),  # Sun 17:30 CET (after fall back)
    (datetime(2024, 10, 27, 7, 30, tzinfo=UTC), False),  # 08:30 CET
])
def test_active_between_skips_outside_hours_across_dst(trigger: datetime,
                                                       inside: bool) -> None:
    pol, state = windowed(trigger)
    state, notes = due(pol, state, trigger + timedelta(hours=1), RESOLVER)
    expected = [("day", trigger), ("backup", trigger + timedelta(minutes=5))]
    assert [(n.user_id, n.due_at) for n in notes] == (expected if inside else expected[1:])
    assert state.fired[0].skipped is not inside


@pytest.mark.parametrize(("instant", "inside"), [
    (datetime(2024, 1, 8, 22, 0, tzinfo=UTC), True),   # Mon 23:00 CET
    (datetime(2024, 1, 9, 1, 0, tzinfo=UTC), True),    # Tue 02:00, Monday's window
    (datetime(2024, 1, 9, 5, 0, tzinfo=UTC), False),   # Tue 06:00, end exclusive
    (datetime(2024, 1, 9, 20, 0, tzinfo=UTC), False),  # Tue 21:00
    (datetime(2024, 1, 7, 22, 0, tzinfo=UTC), False),  # Sun 23:00, Sunday not listed
    (datetime(2024, 1, 8, 1, 0, tzinfo=UTC), False),   # Mon 02:00, Sunday's window
    (datetime(2024, 1, 13, 1, 0, tzinfo=UTC), True),   # Sat 02:00, Friday's window
])
def test_window_spanning_midnight(instant: datetime, inside: bool) -> None:
    night = ActiveWindow(time(22), time(6), "Europe/Berlin", days=(0, 1, 2, 3, 4))
    assert night.contains(instant) is inside


# ---------------------------------------------------------------- property


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Policy, list[int]]:
    delays = draw(st.lists(st.integers(0, 20), min_size=1, max_size=5))
    office = ActiveWindow(time(9), time(18), "Europe/Berlin")
    steps = tuple(Step(timedelta(minutes=d), (user(f"u{i}"),),
                       active_between=office if draw(st.booleans()) else None)
                  for i, d in enumerate(delays))
    pol = Policy("prop", steps, repeat=draw(st.integers(0, 3)))
    gaps = draw(st.lists(st.integers(0, 60), min_size=1, max_size=15))
    return pol, gaps


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.integers(0, 60 * 24 * 365))
def test_each_step_fires_at_most_once_in_nondecreasing_due_order(
        scenario: tuple[Policy, list[int]], offset: int) -> None:
    pol, gaps = scenario
    trigger = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=offset)
    state = start(pol, trigger)
    now = trigger
    notes: list[Notify] = []
    for gap in gaps:
        now += timedelta(minutes=gap)
        state, batch = due(pol, roundtrip(state), now, RESOLVER)
        assert all(n.due_at <= now for n in batch)
        notes += batch
    turns = [(n.step_index, n.repeat) for n in notes]
    assert len(turns) == len(set(turns))
    assert [n.due_at for n in notes] == sorted(n.due_at for n in notes)
    history = [(f.step_index, f.repeat) for f in state.fired]
    assert len(history) == len(set(history))
    assert history == sorted(history, key=lambda t: (t[1], t[0]))
    assert state.next_due_at is None or state.next_due_at > now
