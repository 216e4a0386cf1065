"""iCalendar export of final shifts and import of fixed shifts, through the real icalendar
library: round trips, stable UIDs, time zones, and InvalidInput naming what is wrong."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from vigil.errors import InvalidInput
from vigil.oncall.schedules.definition import (
    Layer,
    Override,
    OverrideKind,
    Rotation,
    Schedule,
    Shift,
    TemporarySchedule,
    business_hours,
)
from vigil.oncall.schedules.ical import export_ics, import_ics
from vigil.oncall.schedules.shifts import final_shifts, on_call_at

BERLIN = ZoneInfo("Europe/Berlin")


def u(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _schedule() -> Schedule:
    start = datetime.combine(date(2024, 3, 25), time(9))
    return Schedule("Primary", BERLIN, (
        Layer("base", Rotation(("alice", "bob", "carol"), start)),
        Layer("day", Rotation(("dave",), start), business_hours()),
    ), overrides=(Override(OverrideKind.ADD, "erin", u(2024, 3, 27, 10), u(2024, 3, 27, 12)),))


def _shifts() -> list[Shift]:
    return final_shifts(_schedule(), u(2024, 3, 25), u(2024, 4, 8))


def _ics(*events: str, extra: str = "") -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{extra}{body}"
            "END:VCALENDAR\r\n").encode()


def test_round_trip_of_final_shifts_across_dst() -> None:
    shifts = _shifts()
    assert len(shifts) > 20
    assert import_ics(export_ics("Primary", shifts)) == shifts


def test_export_shape_and_stable_uids() -> None:
    shifts = _shifts()
    data = export_ics("Primary", shifts)
    assert export_ics("Primary", list(reversed(shifts))) == data  # deterministic
    cal = Calendar.from_ical(data)
    assert str(cal["X-WR-CALNAME"]) == "Primary"
    events = cal.walk("VEVENT")
    assert len(events) == len(shifts)
    first = events[0]
    assert str(first["SUMMARY"]) == f"On call: {shifts[0].user}"
    assert first.decoded("DTSTART") == shifts[0].start
    text = data.decode()
    assert "DTSTART:20240325T080000Z" in text  # 09:00 Berlin, in UTC form, no TZID
    assert "TZID" not in text
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    # a shift keeps its UID in a later export of a different range
    later = final_shifts(_schedule(), u(2024, 3, 20), u(2024, 4, 20))
    later_uids = {str(e["UID"]) for e in Calendar.from_ical(
        export_ics("Primary", later)).walk("VEVENT")}
    assert set(uids[1:-1]) <= later_uids  # the first and last were clipped differently


def test_export_stamp() -> None:
    data = export_ics("x", _shifts()[:1], stamp=u(2024, 1, 1, 12))
    assert "DTSTAMP:20240101T120000Z" in data.decode()
    with pytest.raises(ValueError, match="timezone-aware"):
        export_ics("x", [], stamp=datetime.combine(date(2024, 1, 1), time(0)))


def test_users_with_special_characters_round_trip() -> None:
    shifts = [Shift("o'brien, jr; \u00e9quipe", u(2024, 1, 1), u(2024, 1, 2))]
    assert import_ics(export_ics("n", shifts)) == shifts


IMPORTS = [
    pytest.param(
        _ics("SUMMARY:On call: alice\r\nDTSTART:20240101T090000Z\r\nDTEND:20240101T170000Z"),
        None, [("alice", u(2024, 1, 1, 9), u(2024, 1, 1, 17))], id="utc"),
    pytest.param(
        _ics("SUMMARY:on call:  bob \r\nDTSTART;TZID=Europe/Berlin:20240331T090000\r\n"
             "DTEND;TZID=Europe/Berlin:20240401T090000"),
        None, [("bob", u(2024, 3, 31, 7), u(2024, 4, 1, 7))], id="tzid-after-dst"),
    pytest.param(
        _ics("SUMMARY:Primary\r\nATTENDEE;CN=carol:mailto:carol@example.com\r\n"
             "DTSTART:20240101T000000Z\r\nDURATION:PT12H"),
        None, [("carol", u(2024, 1, 1), u(2024, 1, 1, 12))], id="attendee-cn-and-duration"),
    pytest.param(
        _ics("ATTENDEE:mailto:dan@example.com\r\nDTSTART:20240101T000000Z\r\n"
             "DTEND:20240101T010000Z"),
        None, [("dan@example.com", u(2024, 1, 1), u(2024, 1, 1, 1))], id="attendee-address"),
    pytest.param(
        _ics("SUMMARY:eve\r\nDTSTART:20240101T090000\r\nDTEND:20240101T100000"),
        BERLIN, [("eve", u(2024, 1, 1, 8), u(2024, 1, 1, 9))], id="floating-with-zone"),
    pytest.param(
        _ics("SUMMARY:On call: fay\r\nDTSTART;VALUE=DATE:20240330\r\n"
             "DTEND;VALUE=DATE:20240401"),
        BERLIN, [("fay", u(2024, 3, 29, 23), u(2024, 3, 31, 22))], id="all-day-with-zone"),
    pytest.param(
        _ics("SUMMARY:On call: gus\r\nSTATUS:CANCELLED\r\nDTSTART:20240101T000000Z\r\n"
             "DTEND:20240101T010000Z",
             "SUMMARY:On call: hal\r\nDTSTART:20240102T000000Z\r\nDTEND:20240102T010000Z",
             "SUMMARY:On call: ann\r\nDTSTART:20240101T000000Z\r\nDTEND:20240101T010000Z"),
        None, [("ann", u(2024, 1, 1), u(2024, 1, 1, 1)),
               ("hal", u(2024, 1, 2), u(2024, 1, 2, 1))], id="cancelled-skipped-sorted"),
    pytest.param(_ics(), None, [], id="empty-calendar"),
]


@pytest.mark.parametrize(("data", "zone", "expected"), IMPORTS)
def test_import(data: bytes, zone: ZoneInfo | None,
                expected: list[tuple[str, datetime, datetime]]) -> None:
    shifts = import_ics(data, zone=zone)
    assert [(s.user, s.start, s.end) for s in shifts] == expected
    assert all(s.start.tzinfo is UTC for s in shifts)


INVALID = [
    pytest.param(b"", "ics", id="empty"),
    pytest.param(b"this is not a calendar", "ics", id="garbage"),
    pytest.param(b"\xff\xfe\x00", "ics", id="binary"),
    pytest.param(b"BEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\n", "ics", id="no-vcalendar"),
    pytest.param(_ics("SUMMARY:x\r\nDTEND:20240101T010000Z"), "events[0].dtstart",
                 id="no-dtstart"),
    pytest.param(_ics("SUMMARY:x\r\nDTSTART:20240101T010000Z"), "events[0].dtend",
                 id="no-dtend"),
    pytest.param(_ics("SUMMARY:x\r\nDTSTART:20240102T000000Z\r\nDTEND:20240101T000000Z"),
                 "events[0].dtend", id="end-before-start"),
    pytest.param(_ics("DTSTART:20240101T000000Z\r\nDTEND:20240101T010000Z"),
                 "events[0].summary", id="no-user"),
    pytest.param(_ics("SUMMARY:x\r\nDTSTART:20240101T000000\r\nDTEND:20240101T010000"),
                 "events[0].dtstart", id="floating-without-zone"),
    pytest.param(_ics("SUMMARY:x\r\nDTSTART;VALUE=DATE:20240101\r\nDTEND;VALUE=DATE:20240102"),
                 "events[0].dtstart", id="all-day-without-zone"),
    pytest.param(_ics("SUMMARY:x\r\nDTSTART:20240101T000000Z\r\nDTEND:20240101T010000Z\r\n"
                      "RRULE:FREQ=DAILY"), "events[0].rrule", id="recurring"),
    pytest.param(_ics("SUMMARY:x\r\nDTSTART:2024-01-01\r\nDTEND:20240101T010000Z"),
                 "events[0].dtstart", id="bad-date"),
]


@pytest.mark.parametrize(("data", "field"), INVALID)
def test_invalid_ics(data: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        import_ics(data)
    assert caught.value.field == field, caught.value.message


def test_imported_shifts_become_a_temporary_schedule() -> None:
    data = _ics("SUMMARY:On call: zoe\r\nDTSTART:20240327T000000Z\r\nDTEND:20240328T000000Z")
    temp = TemporarySchedule(u(2024, 3, 27), u(2024, 3, 29), tuple(import_ics(data)))
    base = _schedule()
    sched = Schedule(base.name, base.zone, base.layers, base.overrides, (temp,))
    assert on_call_at(sched, u(2024, 3, 27, 9)) == ["zoe"]
    assert on_call_at(sched, u(2024, 3, 27, 11)) == ["erin", "zoe"]  # override on top
    assert on_call_at(sched, u(2024, 3, 28, 9)) == []  # in the period, no shift
    assert on_call_at(sched, u(2024, 3, 29, 9)) == ["dave"]
