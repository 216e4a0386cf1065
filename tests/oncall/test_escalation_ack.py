"""The pure escalation core, responding: acknowledgement (single and multi), ack timeouts,
resolve, manual escalation, reassignment, and naive times refused. Callbacks are plain
functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from escalation_cases import (
    RESOLVER,
    T0,
    at,
    policy,
    run,
    user,
)

from vigil.errors import Conflict, InvalidInput
from vigil.oncall.escalation.policy import (
    Policy,
    Status,
    Step,
    Target,
    TargetKind,
    acknowledge,
    due,
    escalate_now,
    next_due,
    reassign,
    resolve,
    start,
)
from vigil.oncall.schedules.definition import NaiveDatetimeError

# ---------------------------------------------------------------- acknowledgement


def test_ack_stops_further_steps() -> None:
    pol = policy(0, 5, 10)
    state, _ = run(pol, start(pol, T0), 1)
    state = acknowledge(pol, state, "u0", at(2))
    assert state.status is Status.ACKNOWLEDGED and state.ack_at == at(2)
    assert next_due(state) is None
    assert run(pol, state, 1_000) == (state, [])


def test_ack_before_any_step_fired_stops_escalation() -> None:
    pol = policy(5, 5)
    state = acknowledge(pol, start(pol, T0), "someone", at(1))
    assert run(pol, state, 60)[1] == []


@pytest.mark.parametrize(("acks", "status", "step1_fires"), [
    (["alice"], Status.ACTIVE, True),
    (["alice", "carol"], Status.ACTIVE, True),  # carol was not targeted
    (["alice", "bob"], Status.ACKNOWLEDGED, False),
    (["bob", "alice", "alice"], Status.ACKNOWLEDGED, False),
])
def test_multi_ack_needs_every_targeted_person(acks: list[str], status: Status,
                                               step1_fires: bool) -> None:
    first = Step(timedelta(0), (Target(TargetKind.TEAM, "dbas"),
                                Target(TargetKind.SLACK_CHANNEL, "#db")), multi_ack=True)
    pol = Policy("db", (first, Step(timedelta(minutes=5), (user("boss"),))))
    state, _ = run(pol, start(pol, T0), 0)
    for i, who in enumerate(acks):
        state = acknowledge(pol, state, who, at(1 + i))
    assert state.status is status
    assert state.acked_by == frozenset(acks)
    _, notes = run(pol, state, 5)
    assert [n.user_id for n in notes] == (["boss"] if step1_fires else [])


def test_ack_timeout_retriggers_from_step_zero_as_a_new_epoch() -> None:
    pol = policy(0, 5, ack_timeout=30)
    state, first = run(pol, start(pol, T0), 0)
    state = acknowledge(pol, state, "u0", at(2))
    assert next_due(state) == at(32)
    assert run(pol, state, 31)[1] == []
    state, notes = run(pol, state, 40)  # late scheduler: both steps of the new epoch fire
    assert [(n.epoch, n.step_index, n.due_at) for n in notes] == [(1, 0, at(32)),
                                                                    (1, 1, at(37))]
    assert state.status is Status.EXHAUSTED and state.acked_by == frozenset()
    assert notes[0].key("i") != first[0].key("i")


def test_acking_again_resets_the_ack_timeout() -> None:
    pol = policy(0, 5, ack_timeout=30)
    state, _ = run(pol, start(pol, T0), 0)
    state = acknowledge(pol, state, "u0", at(2))
    state = acknowledge(pol, state, "u0", at(20))
    assert next_due(state) == at(50)
    assert run(pol, state, 49)[1] == []


def test_ack_after_exhaustion_still_arms_the_timeout() -> None:
    pol = policy(0, ack_timeout=10)
    state, _ = run(pol, start(pol, T0), 1)
    assert state.status is Status.EXHAUSTED
    state = acknowledge(pol, state, "u0", at(5))
    state, notes = run(pol, state, 15)
    assert [(n.epoch, n.step_index) for n in notes] == [(1, 0)]


# ---------------------------------------------------------------- resolve, escalate, reassign


def test_resolve_stops_everything() -> None:
    pol = policy(0, 5, ack_timeout=10)
    state, _ = run(pol, start(pol, T0), 0)
    state = resolve(state, at(1))
    assert state.status is Status.RESOLVED and next_due(state) is None
    assert run(pol, state, 1_000) == (state, [])
    assert resolve(state, at(2)) is state
    with pytest.raises(Conflict):
        acknowledge(pol, state, "u0", at(3))
    with pytest.raises(Conflict):
        escalate_now(pol, state, at(3))
    with pytest.raises(Conflict):
        reassign(pol, state, at(3))


def test_resolve_after_ack_cancels_the_retrigger() -> None:
    pol = policy(0, ack_timeout=10)
    state, _ = run(pol, start(pol, T0), 0)
    state = resolve(acknowledge(pol, state, "u0", at(1)), at(2))
    assert run(pol, state, 100)[1] == []


def test_manual_escalate_fires_the_next_step_now() -> None:
    pol = policy(0, 5, 10)
    state, _ = run(pol, start(pol, T0), 1)
    state = escalate_now(pol, state, at(2))
    assert next_due(state) == at(2)
    state, notes = run(pol, state, 2)
    assert [(n.step_index, n.due_at) for n in notes] == [(1, at(2))]
    assert next_due(state) == at(12)  # later delays count from the manual escalation


def test_manual_escalate_reopens_an_acknowledged_incident() -> None:
    pol = policy(0, 5)
    state, _ = run(pol, start(pol, T0), 0)
    state = escalate_now(pol, acknowledge(pol, state, "u0", at(1)), at(2))
    assert state.status is Status.ACTIVE and state.ack_at is None
    state, notes = run(pol, state, 2)
    assert [n.user_id for n in notes] == ["u1"]
    with pytest.raises(Conflict):
        escalate_now(pol, state, at(3))  # exhausted: no step is left


def test_reassign_restarts_from_step_zero_of_another_policy() -> None:
    old = policy(0, 5, name="old")
    new = Policy("new", (Step(timedelta(minutes=2), (user("nina"),)),))
    state, _ = run(old, start(old, T0), 0)
    state = reassign(old, state, at(3), to=new)
    assert (state.policy_name, state.epoch, next_due(state)) == ("new", 1, at(5))
    with pytest.raises(InvalidInput) as err:
        due(old, state, at(5), RESOLVER)
    assert err.value.field == "policy"
    state, notes = due(new, state, at(5), RESOLVER)
    assert [(n.epoch, n.user_id) for n in notes] == [(1, "nina")]


def test_naive_now_is_rejected() -> None:
    pol = policy(0)
    with pytest.raises(NaiveDatetimeError) as err:
        due(pol, start(pol, T0), datetime(2024, 1, 10, 12), RESOLVER)  # noqa: DTZ001
    assert err.value.field == "now"
