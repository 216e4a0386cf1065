"""The pure on-call core, reading a schedule: gaps, balance, next handoff, coverage segments,
timezone-aware input only, and (property) on_call_at agreeing with final_shifts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schedule_cases import (
    BERLIN,
    NEW_YORK,
    local,
    rotation_layer,
    schedule,
    u,
    wall,
)

from vigil.errors import InvalidInput
from vigil.oncall.schedules.definition import (
    Interval,
    NaiveDatetimeError,
    Override,
    OverrideKind,
    Schedule,
    Shift,
    Swap,
    SwapState,
    TemporarySchedule,
    Unit,
    Window,
    business_hours,
    daily_windows,
)
from vigil.oncall.schedules.shifts import (
    balance,
    coverage,
    final_shifts,
    gaps,
    next_handoff,
    on_call_at,
    quality_report,
)

# --- gaps, balance, next handoff -----------------------------------------------------------

def test_gaps_and_balance_by_hand() -> None:
    # Mon 1 Jan 2024; daily a/b at 09:00, only Mon-Fri 09-17; c added Sat 10-14.
    sched = schedule(
        rotation_layer("ab", wall(2024, 1, 1, 9), restrictions=business_hours()),
        overrides=(Override(OverrideKind.ADD, "c", u(2024, 1, 6, 10), u(2024, 1, 6, 14)),))
    start, end = u(2024, 1, 1), u(2024, 1, 8)
    expected_gaps = [
        Interval(u(2024, 1, 1), u(2024, 1, 1, 9)),
        Interval(u(2024, 1, 1, 17), u(2024, 1, 2, 9)),
        Interval(u(2024, 1, 2, 17), u(2024, 1, 3, 9)),
        Interval(u(2024, 1, 3, 17), u(2024, 1, 4, 9)),
        Interval(u(2024, 1, 4, 17), u(2024, 1, 5, 9)),
        Interval(u(2024, 1, 5, 17), u(2024, 1, 6, 10)),
        Interval(u(2024, 1, 6, 14), u(2024, 1, 8)),
    ]
    assert gaps(sched, start, end) == expected_gaps
    # a: Mon, Wed, Fri 8h each; b: Tue, Thu; c: 4h
    assert balance(sched, start, end) == {"a": 24.0, "b": 16.0, "c": 4.0}
    report = quality_report(sched, start, end)
    assert report.gaps == tuple(expected_gaps)
    assert report.gap_hours == 168 - 44
    assert report.covered_fraction == pytest.approx(44 / 168)


def test_balance_lists_participants_with_no_hours() -> None:
    sched = schedule(rotation_layer("abc", wall(2024, 1, 1)))
    assert balance(sched, u(2024, 1, 1), u(2024, 1, 2, 6)) == {"a": 24.0, "b": 6.0, "c": 0.0}


def test_next_handoff() -> None:
    sched = schedule(rotation_layer("ab", wall(2024, 1, 1, 9)), zone=BERLIN)
    handoff = next_handoff(sched, local(BERLIN, 2024, 1, 1, 9))  # strictly after
    assert handoff is not None
    assert (handoff.at, handoff.before, handoff.after) == (
        local(BERLIN, 2024, 1, 2, 9), ("a",), ("b",))
    # one participant: handoffs never change who is on call
    alone = schedule(rotation_layer("a", wall(2024, 1, 1)))
    assert next_handoff(alone, u(2024, 1, 1), horizon=timedelta(days=60)) is None
    # a rotation that starts far ahead is found by widening the search
    later = schedule(rotation_layer("a", wall(2024, 6, 1)))
    found = next_handoff(later, u(2024, 1, 1))
    assert found is not None and (found.at, found.before, found.after) == (
        u(2024, 6, 1), (), ("a",))


def test_coverage_segments() -> None:
    sched = schedule(rotation_layer("ab", wall(2024, 1, 1), restrictions=business_hours()))
    segs = coverage(sched, u(2024, 1, 1, 8), u(2024, 1, 1, 18))
    assert [(s.start.hour, s.end.hour, s.users) for s in segs] == [
        (8, 9, ()), (9, 17, ("a",)), (17, 18, ())]


NAIVE = wall(2024, 1, 1)  # deliberately naive


@pytest.mark.parametrize("call", [
    lambda s: on_call_at(s, NAIVE),
    lambda s: final_shifts(s, NAIVE, u(2024, 1, 2)),
    lambda s: final_shifts(s, u(2024, 1, 1), NAIVE + timedelta(days=1)),
    lambda s: gaps(s, NAIVE, u(2024, 1, 2)),
    lambda s: balance(s, NAIVE, u(2024, 1, 2)),
    lambda s: next_handoff(s, NAIVE),
    lambda s: Override(OverrideKind.ADD, "a", NAIVE, u(2024, 1, 2)),
    lambda s: Shift("a", u(2024, 1, 1), NAIVE + timedelta(days=1)),
])
def test_naive_datetimes_rejected(call: Callable[[Schedule], object]) -> None:
    sched = schedule(rotation_layer("a", wall(2024, 1, 1)))
    with pytest.raises(ValueError, match="timezone-aware"):
        call(sched)
    with pytest.raises(NaiveDatetimeError):
        call(sched)


def test_bad_ranges_rejected() -> None:
    sched = schedule(rotation_layer("a", wall(2024, 1, 1)))
    with pytest.raises(InvalidInput):
        final_shifts(sched, u(2024, 1, 2), u(2024, 1, 1))
    with pytest.raises(InvalidInput):
        final_shifts(sched, u(2024, 1, 1), u(2030, 1, 1))


def test_aware_non_utc_input_gives_utc_output() -> None:
    sched = schedule(rotation_layer("a", wall(2024, 1, 1)), zone=BERLIN)
    shifts = final_shifts(sched, datetime(2024, 1, 2, 12, tzinfo=NEW_YORK),
                          datetime(2024, 1, 2, 13, tzinfo=NEW_YORK))
    assert shifts == [Shift("a", u(2024, 1, 2, 17), u(2024, 1, 2, 18))]
    assert shifts[0].start.tzinfo is UTC


def test_month_of_three_layers_with_overrides_covers_every_instant() -> None:
    sched = schedule(
        rotation_layer("abcde", wall(2024, 1, 1, 9), Unit.HOUR, name="hourly"),
        rotation_layer("xyz", wall(2024, 1, 1, 9), restrictions=business_hours()),
        rotation_layer("pq", wall(2024, 1, 1, 9), Unit.WEEK,
                       restrictions=daily_windows(time(22), time(6))),
        zone=BERLIN,
        overrides=tuple(Override(OverrideKind.ADD, "o", u(2024, 3, d), u(2024, 3, d, 5))
                        for d in range(1, 29)))
    shifts = final_shifts(sched, u(2024, 3, 1), u(2024, 4, 1))
    assert len(shifts) > 300
    # Hourly base layer: nobody is ever missing, and shifts never overlap for one user.
    assert gaps(sched, u(2024, 3, 1), u(2024, 4, 1)) == []
    by_user: dict[str, list[Shift]] = {}
    for shift in shifts:
        by_user.setdefault(shift.user, []).append(shift)
    for own in by_user.values():
        assert all(a.end <= b.start for a, b in pairwise(own))


# --- property: on_call_at agrees with final_shifts -----------------------------------------

PROPERTY_SCHEDULE = schedule(
    rotation_layer(("a", "b", "a", "c"), wall(2024, 3, 20, 9), name="base"),
    rotation_layer("xy", wall(2024, 3, 25, 8), Unit.HOUR, 7, business_hours(), "day"),
    rotation_layer("n", wall(2024, 3, 1), Unit.WEEK, 1,
                   (Window(4, time(22), time(6)), Window(6, time(23), time(1))), "night"),
    zone=BERLIN,
    overrides=(Override(OverrideKind.ADD, "o", u(2024, 3, 28, 10), u(2024, 3, 29, 2)),
               Override(OverrideKind.REMOVE, "a", u(2024, 3, 30), u(2024, 3, 30, 6)),
               Override(OverrideKind.REPLACE, "r", u(2024, 4, 2, 3), u(2024, 4, 2, 5), "c")),
    temporary=(TemporarySchedule(u(2024, 4, 3), u(2024, 4, 4), (
        Shift("t", u(2024, 4, 3, 1), u(2024, 4, 3, 20)),)),),
    swaps=(Swap("s", "b", "y", u(2024, 3, 31), u(2024, 4, 1), state=SwapState.ACCEPTED),),
)


P_START, P_END = u(2024, 3, 24), u(2024, 4, 6)


P_SHIFTS = final_shifts(PROPERTY_SCHEDULE, P_START, P_END)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=int((P_END - P_START).total_seconds()) - 1))
def test_on_call_at_agrees_with_final_shifts(offset: int) -> None:
    t = P_START + timedelta(seconds=offset)
    covering = sorted(s.user for s in P_SHIFTS if s.start <= t < s.end)
    assert on_call_at(PROPERTY_SCHEDULE, t) == covering


def test_final_shifts_of_a_user_never_touch_or_overlap() -> None:
    by_user: dict[str, list[Shift]] = {}
    for s in P_SHIFTS:
        by_user.setdefault(s.user, []).append(s)
    for shifts in by_user.values():
        for before, after in pairwise(shifts):
            assert before.end < after.start
