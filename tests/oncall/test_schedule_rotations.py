"""The pure on-call core, rotations: daily, weekly, monthly and hourly rotations, handoffs
across daylight saving, layers and the restrictions that limit them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from schedule_cases import (
    BERLIN,
    NEW_YORK,
    local,
    rotation_layer,
    schedule,
    u,
    wall,
)

from vigil.oncall.schedules.definition import (
    Interval,
    Layer,
    Rotation,
    Shift,
    Unit,
    Window,
    business_hours,
    daily_windows,
    weekdays_only,
)
from vigil.oncall.schedules.shifts import (
    final_shifts,
    gaps,
    next_handoff,
    on_call_at,
)

SYDNEY = ZoneInfo("Australia/Sydney")


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
