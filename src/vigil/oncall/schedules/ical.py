"""iCalendar (RFC 5545) export of final shifts and import of fixed shifts.

Export writes one VEVENT per shift with UTC DTSTART/DTEND, SUMMARY "On call: <user>" and a
UID derived from (calendar name, user, start), so re-exporting the same shift gives the same
UID and calendar clients update events in place. DTSTAMP is ``stamp`` when given, else the
shift's start, which keeps the output byte-for-byte deterministic.

Import reads VEVENTs back into ``Shift``s (e.g. for a ``TemporarySchedule``). The user is the
text after "On call:" in SUMMARY, else the first ATTENDEE (its CN, else its address without
"mailto:"), else the whole SUMMARY. Floating times and all-day dates need ``zone``; recurring
events are refused. Anything unreadable raises ``InvalidInput``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from vigil.errors import InvalidInput
from vigil.oncall.schedules.definition import Shift, as_utc

PRODID = "-//vigil//on-call schedules//EN"
SUMMARY_PREFIX = "On call:"


def shift_uid(name: str, shift: Shift) -> str:
    key = "\x00".join((name, shift.user, shift.start.astimezone(UTC).isoformat()))
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@vigil"


def export_ics(name: str, shifts: Iterable[Shift], *, stamp: datetime | None = None) -> bytes:
    """A VCALENDAR named ``name`` with one VEVENT per shift."""
    stamped = None if stamp is None else as_utc(stamp, "stamp")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    for shift in sorted(shifts, key=lambda s: (s.start, s.user)):
        event = Event()
        event.add("uid", shift_uid(name, shift))
        event.add("dtstamp", stamped or shift.start)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", f"{SUMMARY_PREFIX} {shift.user}")
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return bytes(cal.to_ical())


def _instant(value: Any, zone: ZoneInfo | None, where: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            if zone is None:
                raise InvalidInput("floating time without a zone; pass zone=", field=where)
            value = value.replace(tzinfo=zone)
        return as_utc(value, where)
    if isinstance(value, date):
        if zone is None:
            raise InvalidInput("all-day event without a zone; pass zone=", field=where)
        return as_utc(datetime.combine(value, time(0), tzinfo=zone), where)
    raise InvalidInput("expected a date-time", field=where)


def _user(event: Event, where: str) -> str:
    summary = str(event.get("summary", "")).strip()
    if summary.lower().startswith(SUMMARY_PREFIX.lower()):
        user = summary[len(SUMMARY_PREFIX):].strip()
        if user:
            return user
    attendees = event.get("attendee")
    if attendees is not None:
        first = attendees[0] if isinstance(attendees, list) else attendees
        cn = str(getattr(first, "params", {}).get("CN", "")).strip()
        address = str(first).strip()
        if address.lower().startswith("mailto:"):
            address = address[len("mailto:"):]
        if cn or address:
            return cn or address
    if summary:
        return summary
    raise InvalidInput("event names no user (SUMMARY or ATTENDEE)", field=f"{where}.summary")


def _event_shift(event: Event, zone: ZoneInfo | None, where: str) -> Shift:
    if "rrule" in event or "rdate" in event:
        raise InvalidInput("recurring events are not supported", field=f"{where}.rrule")
    if "dtstart" not in event:
        raise InvalidInput("DTSTART is required", field=f"{where}.dtstart")
    try:
        raw_start = event.decoded("dtstart")
        raw_end = event.decoded("dtend") if "dtend" in event else None
        duration = event.decoded("duration") if "duration" in event else None
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(f"unreadable date: {exc}", field=f"{where}.dtstart") from None
    start = _instant(raw_start, zone, f"{where}.dtstart")
    if raw_end is not None:
        end = _instant(raw_end, zone, f"{where}.dtend")
    elif isinstance(duration, timedelta):
        end = start + duration
    else:
        raise InvalidInput("DTEND or DURATION is required", field=f"{where}.dtend")
    if end <= start:
        raise InvalidInput("event ends before it starts", field=f"{where}.dtend")
    return Shift(_user(event, where), start, end)


def import_ics(data: bytes | str, *, zone: ZoneInfo | None = None) -> list[Shift]:
    """The fixed shifts in an .ics file, sorted by (start, user). Cancelled events are
    skipped."""
    try:
        cal = Calendar.from_ical(data)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InvalidInput(f"not a valid iCalendar file: {exc}", field="ics") from None
    if not isinstance(cal, Calendar):
        raise InvalidInput("not a valid iCalendar file: no VCALENDAR", field="ics")
    shifts = []
    for i, event in enumerate(cal.walk("VEVENT")):
        if not isinstance(event, Event):
            continue
        if str(event.get("status", "")).upper() == "CANCELLED":
            continue
        shifts.append(_event_shift(event, zone, f"events[{i}]"))
    shifts.sort(key=lambda s: (s.start, s.user))
    return shifts
