"""The pure on-call core: rotations, DST, layers, restrictions, overrides, temporary
schedules, swaps, queries and validation. Expected values are worked out by hand."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import Forbidden, InvalidInput
from vigil.oncall.schedules.definition import (
    Interval,
    Layer,
    NaiveDatetimeError,
    Override,
    OverrideKind,
    Rotation,
    Schedule,
    Shift,
    Swap,
    SwapState,
    SwapTransitionError,
    TemporarySchedule,
    Unit,
    Window,
    accept_swap,
    business_hours,
    cancel_swap,
    daily_windows,
    decline_swap,
    weekdays_only,
)
from vigil.oncall.schedules.overrides import shadows
from vigil.oncall.schedules.parse import parse_schedule
from vigil.oncall.schedules.shifts import (
    balance,
    coverage,
    final_shifts,
    gaps,
    next_handoff,
    on_call_at,
    quality_report,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
ZUTC = ZoneInfo("UTC")


def wall(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A naive local wall-clock time, as rotations take."""
    return datetime.combine(date(year, month, day), time(hour, minute))


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0,
          minute: int = 0) -> datetime:
    """A wall-clock time in ``zone`` as a UTC instant."""
    return wall(year, month, day, hour, minute).replace(tzinfo=zone).astimezone(UTC)


def u(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
      second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def rotation_layer(people: str | tuple[str, ...], start: datetime, unit: Unit = Unit.DAY,
                   length: int = 1, restrictions: tuple[Window, ...] = (),
                   name: str = "layer") -> Layer:
    return Layer(name, Rotation(tuple(people), start, unit, length), restrictions)


def schedule(*layers: Layer, zone: ZoneInfo = ZUTC, **extra: Any) -> Schedule:
    return Schedule("primary", zone, layers, **extra)


def as_local(shifts: list[Shift], zone: ZoneInfo) -> list[tuple[str, str, str]]:
    fmt = "%Y-%m-%d %H:%M"
    return [(s.user, s.start.astimezone(zone).strftime(fmt), s.end.astimezone(zone).strftime(fmt))
            for s in shifts]


# --- rotations -----------------------------------------------------------------------------

ROTATIONS = [
    pytest.param(Unit.DAY, 1, [("a", "2024-01-01 09:00", "2024-01-02 09:00"),
                               ("b", "2024-01-02 09:00", "2024-01-03 09:00"),
                               ("c", "2024-01-03 09:00", "2024-01-04 09:00"),
                               ("a", "2024-01-04 09:00", "2024-01-05 09:00")], id="daily"),
    pytest.param(Unit.WEEK, 1, [("a", "2024-01-01 09:00", "2024-01-08 09:00"),
                                ("b", "2024-01-08 09:00", "2024-01-15 09:00"),
                                ("c", "2024-01-15 09:00", "2024-01-22 09:00"),
                                ("a", "2024-01-22 09:00", "2024-01-29 09:00")], id="weekly"),
    pytest.param(Unit.DAY, 3, [("a", "2024-01-01 09:00", "2024-01-04 09:00"),
                               ("b", "2024-01-04 09:00", "2024-01-07 09:00"),
                               ("c", "2024-01-07 09:00", "2024-01-10 09:00"),
                               ("a", "2024-01-10 09:00", "2024-01-13 09:00")], id="custom-3d"),
    pytest.param(Unit.HOUR, 12, [("a", "2024-01-01 09:00", "2024-01-01 21:00"),
                                 ("b", "2024-01-01 21:00", "2024-01-02 09:00"),
                                 ("c", "2024-01-02 09:00", "2024-01-02 21:00"),
                                 ("a", "2024-01-02 21:00", "2024-01-03 09:00")], id="custom-12h"),
    pytest.param(Unit.HOUR, 1, [("a", "2024-01-01 09:00", "2024-01-01 10:00"),
                                ("b", "2024-01-01 10:00", "2024-01-01 11:00"),
                                ("c", "2024-01-01 11:00", "2024-01-01 12:00"),
                                ("a", "2024-01-01 12:00", "2024-01-01 13:00")], id="hourly"),
]


@pytest.mark.parametrize(("unit", "length", "expected"), ROTATIONS)
def test_rotation_of_three_people(unit: Unit, length: int,
                                  expected: list[tuple[str, str, str]]) -> None:
    sched = schedule(rotation_layer("abc", wall(2024, 1, 1, 9), unit, length), zone=BERLIN)
    end = datetime.strptime(expected[-1][2], "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN)
    shifts = final_shifts(sched, local(BERLIN, 2024, 1, 1, 9), end)
    assert as_local(shifts, BERLIN) == expected


def test_monthly_rotation_clamps_to_month_end() -> None:
    sched = schedule(rotation_layer("abc", wall(2024, 1, 31, 9), Unit.MONTH), zone=BERLIN)
    shifts = final_shifts(sched, local(BERLIN, 2024, 1, 31, 9), local(BERLIN, 2024, 5, 31, 9))
    assert as_local(shifts, BERLIN) == [
        ("a", "2024-01-31 09:00", "2024-02-29 09:00"),
        ("b", "2024-02-29 09:00", "2024-03-31 09:00"),  # back to the 31st, across DST
        ("c", "2024-03-31 09:00", "2024-04-30 09:00"),
        ("a", "2024-04-30 09:00", "2024-05-31 09:00"),
    ]


def test_person_twice_in_rotation() -> None:
    sched = schedule(rotation_layer(("a", "b", "a", "c"), wall(2024, 1, 1)))
    shifts = final_shifts(sched, u(2024, 1, 1), u(2024, 1, 6))
    assert [(s.user, s.start.day) for s in shifts] == [
        ("a", 1), ("b", 2), ("a", 3), ("c", 4), ("a", 5)]


def test_consecutive_shifts_of_same_person_merge() -> None:
    sched = schedule(rotation_layer(("a", "a", "b"), wall(2024, 1, 1)))
    shifts = final_shifts(sched, u(2024, 1, 1, 12), u(2024, 1, 5))
    assert shifts == [Shift("a", u(2024, 1, 1, 12), u(2024, 1, 3)),  # clipped at the range
                      Shift("b", u(2024, 1, 3), u(2024, 1, 4)),
                      Shift("a", u(2024, 1, 4), u(2024, 1, 5))]


def test_nobody_before_rotation_start_or_after_its_end() -> None:
    rot = Rotation(("a",), wall(2024, 1, 2), end=wall(2024, 1, 4))
    sched = schedule(Layer("l", rot))
    assert gaps(sched, u(2024, 1, 1), u(2024, 1, 5)) == [
        Interval(u(2024, 1, 1), u(2024, 1, 2)), Interval(u(2024, 1, 4), u(2024, 1, 5))]


# --- daylight saving -------------------------------------------------------------------------

DST_CHANGES = [
    pytest.param(BERLIN, date(2024, 3, 31), 23, id="berlin-spring-forward"),
    pytest.param(BERLIN, date(2024, 10, 27), 25, id="berlin-fall-back"),
    pytest.param(NEW_YORK, date(2024, 3, 10), 23, id="new-york-spring-forward"),
    pytest.param(NEW_YORK, date(2024, 11, 3), 25, id="new-york-fall-back"),
    pytest.param(SYDNEY, date(2024, 4, 7), 25, id="sydney-fall-back"),
    pytest.param(SYDNEY, date(2024, 10, 6), 23, id="sydney-spring-forward"),
]


@pytest.mark.parametrize(("zone", "change", "hours"), DST_CHANGES)
def test_daily_handoff_stays_at_wall_clock_across_dst(zone: ZoneInfo, change: date,
                                                      hours: int) -> None:
    # The rotation started on 1 January, before every change in the table.
    sched = schedule(rotation_layer("abc", wall(2024, 1, 1, 9)), zone=zone)
    first = datetime.combine(change - timedelta(days=2), time(9), tzinfo=zone)
    last = datetime.combine(change + timedelta(days=2), time(9), tzinfo=zone)
    shifts = final_shifts(sched, first, last)
    assert [s.start.astimezone(zone).time() for s in shifts] == [time(9)] * 4
    assert [s.end.astimezone(zone).time() for s in shifts] == [time(9)] * 4
    assert [s.hours for s in shifts] == [24, hours, 24, 24]
    # and the right person, counted in calendar days since the start
    expected = ["abc"[(change - date(2024, 1, 1)).days % 3]]
    assert on_call_at(sched, datetime.combine(change, time(9, 0), tzinfo=zone)) == expected


@pytest.mark.parametrize(("zone", "change", "hours"), DST_CHANGES)
def test_weekly_shift_spanning_dst_is_an_hour_off(zone: ZoneInfo, change: date,
                                                  hours: int) -> None:
    monday = change - timedelta(days=change.weekday())
    sched = schedule(rotation_layer("ab", datetime.combine(monday, time(10)), Unit.WEEK),
                     zone=zone)
    shift = final_shifts(sched, datetime.combine(monday, time(10), tzinfo=zone),
                         datetime.combine(monday + timedelta(days=7), time(10), tzinfo=zone))
    assert [s.hours for s in shift] == [7 * 24 + hours - 24]


def test_rotation_started_before_dst_queried_months_later() -> None:
    sched = schedule(rotation_layer("abc", wall(2024, 1, 1, 9)), zone=NEW_YORK)
    day = (date(2024, 7, 15) - date(2024, 1, 1)).days  # 196
    # 09:00 EDT is 13:00 UTC in July (it was 14:00 UTC in January).
    assert on_call_at(sched, u(2024, 7, 15, 12, 59, 59)) == ["abc"[(day - 1) % 3]]
    assert on_call_at(sched, u(2024, 7, 15, 13)) == ["abc"[day % 3]]
    handoff = next_handoff(sched, u(2024, 7, 15, 12))
    assert handoff is not None and handoff.at == u(2024, 7, 15, 13)


def test_handoff_in_spring_forward_gap_moves_forward_by_the_gap() -> None:
    sched = schedule(rotation_layer("ab", wall(2024, 3, 29, 2, 30)), zone=BERLIN)
    shifts = final_shifts(sched, local(BERLIN, 2024, 3, 30, 2, 30),
                          local(BERLIN, 2024, 4, 1, 2, 30))
    assert as_local(shifts, BERLIN) == [("b", "2024-03-30 02:30", "2024-03-31 03:30"),
                                        ("a", "2024-03-31 03:30", "2024-04-01 02:30")]


def test_hourly_rotation_uses_absolute_hours_across_dst() -> None:
    sched = schedule(rotation_layer("ab", wall(2024, 3, 30, 9), Unit.HOUR, 12), zone=BERLIN)
    shifts = final_shifts(sched, local(BERLIN, 2024, 3, 30, 9), local(BERLIN, 2024, 4, 1, 10))
    assert {s.hours for s in shifts} == {12}
    # so the local handoff moved from 09:00/21:00 CET to 10:00/22:00 CEST
    assert as_local(shifts, BERLIN)[-1] == ("b", "2024-03-31 22:00", "2024-04-01 10:00")


# --- layers and restrictions ---------------------------------------------------------------

def test_higher_layer_wins_where_it_has_someone() -> None:
    base = rotation_layer("ab", wall(2023, 12, 31, 9), name="base")
    day = rotation_layer("x", wall(2024, 1, 1), restrictions=business_hours(), name="day")
    sched = schedule(base, day, zone=BERLIN)
    assert on_call_at(sched, local(BERLIN, 2024, 1, 1, 10)) == ["x"]  # Monday, business hours
    assert on_call_at(sched, local(BERLIN, 2024, 1, 1, 20)) == ["b"]
    assert on_call_at(sched, local(BERLIN, 2024, 1, 6, 12)) == ["a"]  # Saturday
    assert as_local(final_shifts(sched, local(BERLIN, 2024, 1, 1, 0),
                                 local(BERLIN, 2024, 1, 2, 12)), BERLIN) == [
        ("a", "2024-01-01 00:00", "2024-01-01 09:00"),  # the shift that began 31 December
        ("x", "2024-01-01 09:00", "2024-01-01 17:00"),
        ("b", "2024-01-01 17:00", "2024-01-02 09:00"),
        ("x", "2024-01-02 09:00", "2024-01-02 12:00"),
    ]
    reversed_order = schedule(day, base, zone=BERLIN)  # base on top: always wins
    assert on_call_at(reversed_order, local(BERLIN, 2024, 1, 1, 10)) == ["b"]


RESTRICTIONS = [
    # (windows, local instant in the week of Monday 2024-01-01, expected on call)
    pytest.param(weekdays_only(), (1, 1, 0, 0), ["a"], id="weekdays-monday-midnight"),
    pytest.param(weekdays_only(), (1, 5, 23, 59), ["a"], id="weekdays-friday-late"),
    pytest.param(weekdays_only(), (1, 6, 0, 0), [], id="weekdays-saturday"),
    pytest.param(business_hours(), (1, 3, 9, 0), ["a"], id="business-start-inclusive"),
    pytest.param(business_hours(), (1, 3, 17, 0), [], id="business-end-exclusive"),
    pytest.param(business_hours(), (1, 3, 8, 59), [], id="business-before"),
    pytest.param(business_hours(), (1, 7, 12, 0), [], id="business-sunday"),
    pytest.param((Window(4, time(22), time(6)),), (1, 5, 21, 59), [], id="midnight-before"),
    pytest.param((Window(4, time(22), time(6)),), (1, 5, 23, 0), ["a"], id="midnight-friday"),
    pytest.param((Window(4, time(22), time(6)),), (1, 6, 5, 59), ["a"], id="midnight-saturday"),
    pytest.param((Window(4, time(22), time(6)),), (1, 6, 6, 0), [], id="midnight-after"),
    pytest.param((Window(4, time(22), time(6)),), (1, 4, 23, 0), [], id="midnight-thursday"),
    pytest.param(daily_windows(time(18), time(18)), (1, 2, 17, 0), ["a"], id="24h-window"),
    pytest.param((Window(0, time(9), time(12)), Window(2, time(13), time(17))), (1, 3, 14, 0),
                 ["a"], id="split-week-wednesday"),
    pytest.param((Window(0, time(9), time(12)), Window(2, time(13), time(17))), (1, 1, 14, 0),
                 [], id="split-week-monday-afternoon"),
]


@pytest.mark.parametrize(("windows", "when", "expected"), RESTRICTIONS)
def test_restrictions(windows: tuple[Window, ...], when: tuple[int, int, int, int],
                      expected: list[str]) -> None:
    sched = schedule(rotation_layer("a", wall(2023, 12, 1), restrictions=windows),
                     zone=NEW_YORK)
    assert on_call_at(sched, local(NEW_YORK, 2024, *when)) == expected


def test_restriction_spanning_midnight_shows_lower_layer_around_it() -> None:
    base = rotation_layer("b", wall(2024, 1, 1))
    night = rotation_layer("n", wall(2024, 1, 1), restrictions=(Window(4, time(22), time(6)),))
    sched = schedule(base, night, zone=BERLIN)
    assert as_local(final_shifts(sched, local(BERLIN, 2024, 1, 5, 12),
                                 local(BERLIN, 2024, 1, 6, 12)), BERLIN) == [
        ("b", "2024-01-05 12:00", "2024-01-05 22:00"),
        ("n", "2024-01-05 22:00", "2024-01-06 06:00"),
        ("b", "2024-01-06 06:00", "2024-01-06 12:00"),
    ]


def test_business_hours_stay_local_across_dst() -> None:
    sched = schedule(rotation_layer("a", wall(2024, 3, 1), restrictions=business_hours()),
                     zone=BERLIN)
    shifts = final_shifts(sched, u(2024, 3, 28), u(2024, 4, 2))
    assert [(s.start, s.end) for s in shifts] == [
        (u(2024, 3, 28, 8), u(2024, 3, 28, 16)),   # Thursday, CET
        (u(2024, 3, 29, 8), u(2024, 3, 29, 16)),   # Friday, CET
        (u(2024, 4, 1, 7), u(2024, 4, 1, 15)),     # Monday, CEST: still 09:00-17:00 local
    ]


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


# --- validation ----------------------------------------------------------------------------

VALID: dict[str, Any] = {
    "name": "primary",
    "time_zone": "Europe/Berlin",
    "layers": [
        {"name": "base",
         "rotation": {"type": "daily", "start": "2024-01-01", "handoff": "09:00",
                      "participants": ["a", "b", "c"]}},
        {"name": "day",
         "rotation": {"type": "custom", "length": "12h", "start": "2024-01-01T09:00",
                      "participants": ["x"], "end": "2025-01-01T00:00"},
         "restrictions": ["business_hours", {"day": "sat", "start": "22:00", "end": "24:00"}]},
    ],
    "overrides": [{"type": "replace", "user": "d", "replaces": "a",
                   "start": "2024-01-01T18:00:00Z", "end": "2024-01-01T20:00:00+00:00"}],
    "temporary": [{"start": "2024-02-01T00:00Z", "end": "2024-02-02T00:00Z",
                   "shifts": [{"user": "t", "start": "2024-02-01T00:00Z",
                               "end": "2024-02-01T12:00Z"}]}],
    "swaps": [{"id": "s1", "requester": "b", "counterpart": "c", "state": "accepted",
               "start": "2024-01-02T08:00Z", "end": "2024-01-03T08:00Z"}],
}


def test_parse_valid_schedule() -> None:
    sched = parse_schedule(copy.deepcopy(VALID))
    assert sched == Schedule(
        "primary", BERLIN,
        (Layer("base", Rotation(("a", "b", "c"), wall(2024, 1, 1, 9))),
         Layer("day", Rotation(("x",), wall(2024, 1, 1, 9), Unit.HOUR, 12,
                               end=wall(2025, 1, 1)),
               (*business_hours(), Window(5, time(22), time(0))))),
        (Override(OverrideKind.REPLACE, "d", u(2024, 1, 1, 18), u(2024, 1, 1, 20), "a"),),
        (TemporarySchedule(u(2024, 2, 1), u(2024, 2, 2),
                           (Shift("t", u(2024, 2, 1), u(2024, 2, 1, 12)),)),),
        (Swap("s1", "b", "c", u(2024, 1, 2, 8), u(2024, 1, 3, 8), state=SwapState.ACCEPTED),),
    )
    assert on_call_at(sched, u(2024, 1, 1, 11)) == ["x"]  # business hours: top layer
    assert on_call_at(sched, u(2024, 1, 1, 19)) == ["d"]  # a's evening, replaced
    assert on_call_at(sched, u(2024, 1, 2, 19)) == ["c"]  # b's evening, swapped
    assert on_call_at(sched, u(2024, 1, 6, 22, 30)) == ["x"]  # Saturday 23:30 local


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or, for value ``...``, delete) a dotted path with [i] indices."""
    def apply(data: dict[str, Any]) -> None:
        keys: list[Any] = []
        for part in path.split("."):
            name, _, rest = part.partition("[")
            keys.append(name)
            keys.extend(int(i) for i in rest.rstrip("]").split("][") if i)
        target: Any = data
        for key in keys[:-1]:
            target = target[key]
        if value is ...:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return apply


L0R = "layers[0].rotation"
INVALID = [
    ("time_zone", "Mars/Olympus", "time_zone"),
    ("time_zone", "", "time_zone"),
    ("layers", [], "layers"),
    (f"{L0R}.participants", [], f"{L0R}.participants"),
    (f"{L0R}.participants", ["a", " "], f"{L0R}.participants[1]"),
    (f"{L0R}.handoff", "9am", f"{L0R}.handoff"),
    (f"{L0R}.handoff", "25:00", f"{L0R}.handoff"),
    (f"{L0R}.start", "2024-13-01", f"{L0R}.start"),
    (f"{L0R}.start", "2024-01-01T09:00+01:00", f"{L0R}.start"),
    (f"{L0R}.start", ..., f"{L0R}.start"),
    (f"{L0R}.end", "2023-12-31", f"{L0R}.end"),
    (f"{L0R}.type", "fortnightly", f"{L0R}.type"),
    (f"{L0R}.length", 0, f"{L0R}.length"),
    (f"{L0R}.length", -2, f"{L0R}.length"),
    (f"{L0R}.length", "12h", f"{L0R}.length"),
    ("layers[1].rotation.length", "0h", "layers[1].rotation.length"),
    ("layers[1].rotation.length", "12 parsecs", "layers[1].rotation.length"),
    ("layers[1].rotation.length", ..., "layers[1].rotation.length"),
    (f"{L0R}.participant", ["a"], f"{L0R}.participant"),
    ("layers[1].restrictions[1].day", "funday", "layers[1].restrictions[1].day"),
    ("layers[1].restrictions[1].start", 1020, "layers[1].restrictions[1].start"),
    ("layers[1].restrictions[1].end", "17:60", "layers[1].restrictions[1].end"),
    ("layers[1].restrictions[0]", "evenings", "layers[1].restrictions[0]"),
    ("overrides[0].end", "2024-01-01T09:00:00Z", "overrides[0].end"),
    ("overrides[0].start", "2024-01-01T10:00:00", "overrides[0].start"),
    ("overrides[0].type", "swap", "overrides[0].type"),
    ("overrides[0].user", None, "overrides[0].user"),
    ("temporary[0].shifts[0].end", "2024-01-31T00:00Z", "temporary[0].shifts[0].end"),
    ("swaps[0].counterpart", "b", "swaps[0].counterpart"),
    ("swaps[0].state", "maybe", "swaps[0].state"),
]


@pytest.mark.parametrize(("path", "value", "field"), INVALID)
def test_validation_names_the_field(path: str, value: Any, field: str) -> None:
    data = copy.deepcopy(VALID)
    _set(path, value)(data)
    with pytest.raises(InvalidInput) as caught:
        parse_schedule(data)
    assert caught.value.field == field, caught.value.message


def test_replaces_only_on_replace_overrides() -> None:
    data = copy.deepcopy(VALID)
    data["overrides"][0]["type"] = "add"
    with pytest.raises(InvalidInput) as caught:
        parse_schedule(data)
    assert caught.value.field == "overrides[0].replaces"


def test_validation_of_non_mapping_input() -> None:
    with pytest.raises(InvalidInput):
        parse_schedule(["not", "a", "schedule"])


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
