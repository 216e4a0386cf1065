"""The pure on-call core, what changes a rotation: overrides, temporary schedules, the swap
state machine, and which overrides shadow one another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from schedule_cases import (
    ZUTC,
    rotation_layer,
    schedule,
    u,
    wall,
)

from vigil.errors import Forbidden
from vigil.oncall.schedules.definition import (
    Interval,
    Layer,
    Override,
    OverrideKind,
    Rotation,
    Schedule,
    Shift,
    Swap,
    SwapState,
    SwapTransitionError,
    TemporarySchedule,
    accept_swap,
    business_hours,
    cancel_swap,
    decline_swap,
)
from vigil.oncall.schedules.overrides import shadows
from vigil.oncall.schedules.shifts import (
    coverage,
    final_shifts,
    gaps,
    on_call_at,
)

# --- overrides, temporary schedules, swaps -----------------------------------------------

def _ov(kind: str, user: str, replaces: str | None = None) -> Override:
    return Override(OverrideKind(kind), user, u(2024, 1, 1, 10), u(2024, 1, 1, 12), replaces)


OVERRIDES = [
    pytest.param([_ov("add", "c")], ["a", "c"],
                 [("a", 0, 24), ("c", 10, 12)], id="add"),
    pytest.param([_ov("remove", "a")], [], [("a", 0, 10), ("a", 12, 24)], id="remove"),
    pytest.param([_ov("remove", "z")], ["a"], [("a", 0, 24)], id="remove-someone-not-on"),
    pytest.param([_ov("replace", "c")], ["c"],
                 [("a", 0, 10), ("c", 10, 12), ("a", 12, 24)], id="replace"),
    pytest.param([_ov("replace", "c", "a")], ["c"],
                 [("a", 0, 10), ("c", 10, 12), ("a", 12, 24)], id="replace-named"),
    pytest.param([_ov("replace", "c", "b")], ["a"], [("a", 0, 24)], id="replace-not-on"),
    pytest.param([_ov("add", "c"), _ov("replace", "d")], ["d"],
                 [("a", 0, 10), ("d", 10, 12), ("a", 12, 24)], id="replace-after-add"),
    pytest.param([_ov("add", "c"), _ov("remove", "c")], ["a"], [("a", 0, 24)],
                 id="add-then-remove"),
]


@pytest.mark.parametrize(("overrides", "at_eleven", "shifts"), OVERRIDES)
def test_overrides(overrides: list[Override], at_eleven: list[str],
                   shifts: list[tuple[str, int, int]]) -> None:
    sched = schedule(rotation_layer("ab", wall(2024, 1, 1)), overrides=tuple(overrides))
    assert on_call_at(sched, u(2024, 1, 1, 11)) == at_eleven
    got = final_shifts(sched, u(2024, 1, 1), u(2024, 1, 2))
    assert [(s.user, s.start.hour, (s.end - u(2024, 1, 1)) // timedelta(hours=1))
            for s in got] == shifts


def test_replace_override_fills_a_gap() -> None:
    sched = schedule(rotation_layer("a", wall(2024, 1, 1), restrictions=business_hours()),
                     overrides=(Override(OverrideKind.REPLACE, "c", u(2024, 1, 6), u(2024, 1, 7)),))
    assert on_call_at(sched, u(2024, 1, 6, 3)) == ["c"]


def test_temporary_schedule_replaces_everything() -> None:
    base = rotation_layer("ab", wall(2024, 1, 1))
    top = rotation_layer("x", wall(2024, 1, 1), restrictions=business_hours())
    temp = TemporarySchedule(u(2024, 1, 2), u(2024, 1, 4), (
        Shift("t1", u(2024, 1, 1), u(2024, 1, 3)),    # starts before the period: clipped
        Shift("t2", u(2024, 1, 3), u(2024, 1, 3, 12)),
    ))
    sched = schedule(base, top, temporary=(temp,))
    assert on_call_at(sched, u(2024, 1, 1, 10)) == ["x"]
    assert on_call_at(sched, u(2024, 1, 2, 10)) == ["t1"]
    assert on_call_at(sched, u(2024, 1, 3, 18)) == []      # inside the period, no shift
    assert on_call_at(sched, u(2024, 1, 4, 10)) == ["x"]
    assert gaps(sched, u(2024, 1, 3), u(2024, 1, 4, 9)) == [
        Interval(u(2024, 1, 3, 12), u(2024, 1, 4))]
    shifts = final_shifts(sched, u(2024, 1, 1, 18), u(2024, 1, 4, 12))
    assert [(s.user, s.start, s.end) for s in shifts] == [
        ("a", u(2024, 1, 1, 18), u(2024, 1, 2)),
        ("t1", u(2024, 1, 2), u(2024, 1, 3)),
        ("t2", u(2024, 1, 3), u(2024, 1, 3, 12)),
        ("b", u(2024, 1, 4), u(2024, 1, 4, 9)),
        ("x", u(2024, 1, 4, 9), u(2024, 1, 4, 12)),
    ]
    # overrides still apply on top of a temporary schedule
    added = Override(OverrideKind.ADD, "o", u(2024, 1, 2, 9), u(2024, 1, 2, 11))
    sched2 = schedule(base, top, temporary=(temp,), overrides=(added,))
    assert on_call_at(sched2, u(2024, 1, 2, 10)) == ["o", "t1"]


def _swap(state: SwapState = SwapState.REQUESTED) -> Swap:
    return Swap("s1", "a", "b", u(2024, 1, 1), u(2024, 1, 2),
                return_start=u(2024, 1, 2), return_end=u(2024, 1, 3), state=state)


SWAP_TRANSITIONS: list[Any] = [
    (SwapState.REQUESTED, accept_swap, "b", SwapState.ACCEPTED),
    (SwapState.REQUESTED, decline_swap, "b", SwapState.DECLINED),
    (SwapState.REQUESTED, cancel_swap, "a", SwapState.CANCELLED),
    (SwapState.REQUESTED, accept_swap, "a", Forbidden),
    (SwapState.REQUESTED, decline_swap, "c", Forbidden),
    (SwapState.REQUESTED, cancel_swap, "b", Forbidden),
    (SwapState.ACCEPTED, accept_swap, "b", SwapTransitionError),
    (SwapState.ACCEPTED, cancel_swap, "a", SwapTransitionError),
    (SwapState.DECLINED, accept_swap, "b", SwapTransitionError),
    (SwapState.CANCELLED, accept_swap, "b", SwapTransitionError),
    (SwapState.CANCELLED, decline_swap, "b", SwapTransitionError),
]


@pytest.mark.parametrize(("state", "action", "actor", "outcome"), SWAP_TRANSITIONS)
def test_swap_state_machine(state: SwapState, action: Callable[[Swap, str], Swap], actor: str,
                            outcome: Any) -> None:
    swap = _swap(state)
    if isinstance(outcome, SwapState):
        assert action(swap, actor).state is outcome
        assert swap.state is state  # immutable
    else:
        with pytest.raises(outcome):
            action(swap, actor)


@pytest.mark.parametrize(("state", "jan1", "jan2"), [
    (SwapState.REQUESTED, "a", "b"),
    (SwapState.DECLINED, "a", "b"),
    (SwapState.CANCELLED, "a", "b"),
    (SwapState.ACCEPTED, "b", "a"),
])
def test_swap_takes_effect_only_when_accepted(state: SwapState, jan1: str, jan2: str) -> None:
    sched = schedule(rotation_layer("ab", wall(2024, 1, 1)), swaps=(_swap(state),))
    assert on_call_at(sched, u(2024, 1, 1, 12)) == [jan1]
    assert on_call_at(sched, u(2024, 1, 2, 12)) == [jan2]
    assert on_call_at(sched, u(2024, 1, 3, 12)) == ["a"]


def test_accepted_swap_is_a_replace_override() -> None:
    accepted = accept_swap(_swap(), "b")
    assert accepted.overrides() == (
        Override(OverrideKind.REPLACE, "b", u(2024, 1, 1), u(2024, 1, 2), replaces="a"),
        Override(OverrideKind.REPLACE, "a", u(2024, 1, 2), u(2024, 1, 3), replaces="b"))
    assert _swap().overrides() == ()


# Shadowing overrides: a day whose 16 hours have every set of alice, bob, carol and dave on
# call (hour h: the users whose bit is set in h), and overrides of every kind over spans
# that cover, overlap or miss one another.
_SHADOW_USERS = ("alice", "bob", "carol", "dave")


def _hour(h: int) -> datetime:
    return u(2026, 3, 2, 0) + timedelta(hours=h)


_EVERY_SET = Schedule("every set", ZUTC, (Layer("erin", Rotation(("erin",), wall(2026, 1, 1))),),
                      temporary=(TemporarySchedule(_hour(0), _hour(16), tuple(
                          Shift(user, _hour(h), _hour(h + 1)) for h in range(16)
                          for bit, user in enumerate(_SHADOW_USERS) if h >> bit & 1)),))


_KINDS = [(OverrideKind.ADD, "alice", None), (OverrideKind.ADD, "bob", None),
          (OverrideKind.REMOVE, "alice", None), (OverrideKind.REMOVE, "bob", None),
          (OverrideKind.REPLACE, "alice", None), (OverrideKind.REPLACE, "bob", None),
          (OverrideKind.REPLACE, "bob", "alice"), (OverrideKind.REPLACE, "alice", "bob"),
          (OverrideKind.REPLACE, "alice", "carol")]


_OVERRIDES = [Override(kind, user, _hour(a), _hour(b), replaces=replaces)
              for kind, user, replaces in _KINDS for a, b in ((0, 16), (0, 8), (4, 12), (8, 16))]


def _covered(overrides: list[Override], start: datetime, end: datetime) -> list[Any]:
    return coverage(Schedule("x", ZUTC, _EVERY_SET.layers, tuple(overrides),
                             _EVERY_SET.temporary), start, end)


def test_shadows_agree_with_how_overrides_apply() -> None:
    """Where ``shadows`` says an override changes nothing, taking it away changes no
    coverage; two overrides over the same whole day that it calls unrelated both matter."""
    for a in _OVERRIDES:
        for b in _OVERRIDES:
            pair = [a, b]
            found = shadows(pair)
            if min(a.end, b.end) <= max(a.start, b.start):
                assert found == []
                continue
            for shadow in found:
                hidden = pair[shadow.hidden]
                assert {shadow.hidden, shadow.by} == {0, 1}
                lo, hi = (hidden.start, hidden.end) if shadow.full else (shadow.start,
                                                                          shadow.end)
                without = [pair[shadow.by]]
                assert _covered(pair, lo, hi) == _covered(without, lo, hi), (a, b, shadow)
                assert shadow.duplicate == (a == b)
            if not found and a.start == b.start and a.end == b.end:
                whole = (a.start, a.end)
                assert _covered(pair, *whole) != _covered([a], *whole), (a, b)
                assert _covered(pair, *whole) != _covered([b], *whole), (a, b)


def test_shadows_only_involving_one_override() -> None:
    day = (_hour(0), _hour(16))
    overrides = [Override(OverrideKind.ADD, "alice", *day),
                 Override(OverrideKind.ADD, "alice", *day),
                 Override(OverrideKind.REPLACE, "bob", _hour(2), _hour(3))]
    assert [(s.hidden, s.by, s.full) for s in shadows(overrides)] == [
        (0, 1, True), (0, 2, False), (1, 2, False)]
    assert [(s.hidden, s.by) for s in shadows(overrides, involving=1)] == [(0, 1), (1, 2)]
