"""Recurring schedules on a time zone's wall clock: the cron and RRULE series behind
recurring maintenance windows (:mod:`vigil.muting.maintenance`), and the time zone
arithmetic they need. Pure: no database, no clock.

A schedule is a 5-field cron expression (croniter) or an RFC 5545 RRULE (dateutil), evaluated
on naive local wall time in an IANA zone, so "Sunday 02:00 Europe/Berlin" stays at 02:00 local
time on both sides of a DST change. Local times the clock skips (the spring-forward gap) map
to the moment of the jump, e.g. Berlin 02:30 on the last Sunday of March is 03:00 CEST
(01:00Z); ambiguous local times (the autumn fold) are taken at their first occurrence.

For an RRULE, DTSTART is the window's ``starts_at`` in its zone (to the minute) or, without
it, 2001-01-01T00:00 local time (a Monday): parts the rule leaves out default from it as
RFC 5545 says (so ``FREQ=DAILY`` alone is daily at midnight). ``COUNT`` therefore needs
``starts_at``. ``UNTIL`` may be UTC (``...Z``, as RFC 5545 wants with a zoned DTSTART), local
(no ``Z``) or a date (the whole day, local).
"""

from __future__ import annotations

import calendar
import copy
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import (  # type: ignore[import-untyped, unused-ignore]
    CroniterError,
    croniter,
)
from dateutil.relativedelta import (  # type: ignore[import-untyped, unused-ignore]
    relativedelta,
)
from dateutil.rrule import (  # type: ignore[import-untyped, unused-ignore]
    rrule as _RRuleObj,
)
from dateutil.rrule import (  # type: ignore[import-untyped, unused-ignore]
    rrulestr,
)

from vigil.errors import InvalidInput

__all__ = [
    "LOOKBACK",
    "Cron",
    "RRule",
    "Recurrence",
    "compile_cron",
    "compile_rrule",
    "load_zone",
    "local_wall",
    "max_offset",
    "wall_to_utc",
]

_MAX_COUNT = 1000
_MAX_INTERVAL = 10_000
# Recurrences run on naive local wall time (the DTZ noqa below are on purpose).
_DEFAULT_DTSTART = datetime(2001, 1, 1)  # noqa: DTZ001  # a Monday, 1 January, midnight
_HORIZON_YEARS = 10  # a schedule must occur at least once in this many years from DTSTART
#: Longer than any DST shift; for the offsets in force around a time.
LOOKBACK = timedelta(hours=3)

_ONE_US = timedelta(microseconds=1)


# --- time zone arithmetic ---------------------------------------------------------------


def local_wall(t: datetime, tz: ZoneInfo) -> datetime:
    """An aware instant as naive local wall time in ``tz``."""
    return t.astimezone(tz).replace(tzinfo=None)


def wall_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """Naive local wall time in ``tz`` -> the UTC instant, non-decreasing in ``wall``: a
    skipped (gap) time maps to the instant of the jump, an ambiguous one to its first pass."""
    u: datetime = wall.replace(tzinfo=tz).astimezone(UTC)
    if local_wall(u, tz) == wall:
        return u
    other: datetime = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = sorted((int(u.timestamp()), int(other.timestamp())))
    after = datetime.fromtimestamp(hi, UTC).astimezone(tz).utcoffset()
    while hi - lo > 1:  # the first second on the far side of the jump
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def max_offset(t: datetime, tz: ZoneInfo) -> timedelta:
    """The largest UTC offset ``tz`` has in the :data:`LOOKBACK` before ``t``."""
    offsets = [x.astimezone(tz).utcoffset() for x in (t - LOOKBACK, t)]
    return max(o for o in offsets if o is not None)


# --- recurrences on naive wall time ------------------------------------------------------


class Recurrence(Protocol):
    """A compiled schedule: occurrences as naive wall times."""

    def before(self, wall: datetime, *, inc: bool) -> datetime | None:
        """The latest occurrence (wall time) before ``wall`` (or at it, with ``inc``)."""

    def iter_after(self, wall: datetime | None, default: datetime) -> Iterator[datetime]:
        """Occurrences strictly after ``wall``, ascending; from ``default`` (or the very
        first) when ``wall`` is None."""


class Cron:
    """A cron expression over naive wall time."""

    def __init__(self, expr: str) -> None:
        # Expanding the expression is the slow part; each query copies the template.
        self._tpl = croniter(expr, _DEFAULT_DTSTART)

    def _cursor(self) -> Any:
        return copy.copy(self._tpl)

    def before(self, wall: datetime, *, inc: bool) -> datetime | None:
        base = wall + _ONE_US if inc else wall
        try:
            found: datetime = self._cursor().get_prev(datetime, start_time=base)
        except CroniterError:
            return None
        return found

    def iter_after(self, wall: datetime | None, default: datetime) -> Iterator[datetime]:
        cur = self._cursor()
        base = wall if wall is not None else default
        try:
            nxt: datetime = cur.get_next(datetime, start_time=base)
            while True:
                yield nxt
                nxt = cur.get_next(datetime)
        except CroniterError:
            return


class RRule:
    """An rrule over naive wall time. dateutil iterates from DTSTART, so queries restart
    the rule a few periods before the time asked about (same phase, same defaults), which
    keeps them cheap however old the rule is."""

    def __init__(self, rule: Any, anchor: datetime, freq: str, interval: int,
                 counted: bool) -> None:
        self._rule = rule
        self._anchor = anchor
        self._months = 0
        self._step = timedelta(0)
        if freq in ("MONTHLY", "YEARLY"):
            self._months = interval * (12 if freq == "YEARLY" else 1)
        else:
            self._step = interval * _UNITS[freq]
        # Shifting DTSTART by whole periods keeps every default it implies, except a day of
        # month past the 28th (a month later it may not exist), and COUNT counts from it.
        self._movable = not counted and (self._months == 0 or anchor.day <= 28)

    def _periods(self, wall: datetime) -> int:
        a = self._anchor
        if self._months:
            return ((wall.year - a.year) * 12 + wall.month - a.month) // self._months
        return (wall - a) // self._step

    def _from(self, k: int) -> Any:
        if k <= 0 or not self._movable:
            return self._rule
        if self._months:
            start = self._anchor + relativedelta(months=k * self._months)
        else:
            start = self._anchor + k * self._step
        return self._rule.replace(dtstart=start)

    def before(self, wall: datetime, *, inc: bool) -> datetime | None:
        n = self._periods(wall)
        back = 2
        while True:
            k = n - back
            rule = self._from(k)
            found: datetime | None = rule.before(wall, inc=inc)
            if found is not None or rule is self._rule:
                return found
            back *= 8

    def iter_after(self, wall: datetime | None, default: datetime) -> Iterator[datetime]:
        if wall is None:
            yield from self._rule
            return
        for occ in self._from(self._periods(wall) - 1):
            if occ > wall:
                yield occ


_UNITS = {"SECONDLY": timedelta(seconds=1), "MINUTELY": timedelta(minutes=1),
          "HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1),
          "WEEKLY": timedelta(weeks=1)}
_FREQS = (*_UNITS, "MONTHLY", "YEARLY")
_RRULE_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYSECOND", "BYMINUTE", "BYHOUR",
                "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST")
_DIGITS = re.compile(r"^\d+$")


def _bad_rrule(message: str) -> InvalidInput:
    return InvalidInput(f"schedule.rrule: {message}", field="schedule.rrule")


def _rrule_parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if not body or "\n" in body or "\r" in body:
        raise _bad_rrule("give one rule like FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0")
    parts: dict[str, str] = {}
    for item in body.split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not value:
            raise _bad_rrule(f"{item!r} is not NAME=VALUE")
        if key not in _RRULE_PARTS:
            raise _bad_rrule(f"{key} is not supported (use {', '.join(_RRULE_PARTS)})")
        if key in parts:
            raise _bad_rrule(f"{key} is given twice")
        parts[key] = value
    if parts.get("FREQ") not in _FREQS:
        raise _bad_rrule(f"FREQ must be one of {', '.join(_FREQS)}")
    for key, top in (("INTERVAL", _MAX_INTERVAL), ("COUNT", _MAX_COUNT)):
        if key in parts and not (_DIGITS.match(parts[key]) and 1 <= int(parts[key]) <= top):
            raise _bad_rrule(f"{key} must be a whole number from 1 to {top}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise _bad_rrule("give COUNT or UNTIL, not both")
    return parts


def _local_until(value: str, tz: ZoneInfo) -> str:
    """RRULE UNTIL as local wall time, the form dateutil needs with a naive DTSTART."""
    try:
        if value.endswith("Z"):
            utc = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return local_wall(utc, tz).strftime("%Y%m%dT%H%M%S")
        if "T" in value:
            wall = datetime.strptime(value, "%Y%m%dT%H%M%S")  # noqa: DTZ007
            return wall.strftime("%Y%m%dT%H%M%S")
        day = datetime.strptime(value, "%Y%m%d")  # noqa: DTZ007
        return day.replace(hour=23, minute=59, second=59).strftime("%Y%m%dT%H%M%S")
    except ValueError:
        raise _bad_rrule(f"UNTIL {value!r} is not like 20261231T000000Z") from None


def _equivalent_year(year: int, span: int) -> int | None:
    """A year near the end of the calendar whose next ``span`` years fall on the same
    weekdays with the same leap days as ``year``'s."""
    span = min(span, date.max.year - year)
    pattern = [calendar.isleap(year + j) for j in range(span + 1)]
    weekday = date(year, 1, 1).weekday()
    for y in range(date.max.year - span, date.max.year - span - 400, -1):
        if date(y, 1, 1).weekday() == weekday and \
                [calendar.isleap(y + j) for j in range(span + 1)] == pattern:
            return y
    return None


def compile_rrule(text: str, tz: ZoneInfo, starts_at: datetime | None) -> RRule:
    """An RRULE checked and compiled on ``tz``'s wall clock; raises InvalidInput naming
    ``schedule.rrule``."""
    parts = _rrule_parts(text)
    if "COUNT" in parts and starts_at is None:
        raise _bad_rrule("COUNT needs starts_at (or use ends_at)")
    if "UNTIL" in parts:
        parts["UNTIL"] = _local_until(parts["UNTIL"], tz)
    anchor = (local_wall(starts_at, tz).replace(second=0, microsecond=0) if starts_at is not None
              else _DEFAULT_DTSTART)
    try:
        rule = rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=anchor)
    except (ValueError, KeyError, TypeError, IndexError, OverflowError) as exc:
        raise _bad_rrule(str(exc)) from None
    if not isinstance(rule, _RRuleObj):
        raise _bad_rrule("give one rule")
    # A rule whose parts contradict each other (BYMONTH=2;BYMONTHDAY=30) makes dateutil
    # search to the year 9999. Ask on a copy set in an equivalent calendar near that year,
    # where the search ends by itself within decades.
    never = f"the rule never occurs (not within {_HORIZON_YEARS} years)"
    probe_year = _equivalent_year(anchor.year, _HORIZON_YEARS)
    try:
        if probe_year is not None:
            probe_start = anchor.replace(year=probe_year)
            probe = rule.replace(dtstart=probe_start, until=None, count=None)
            if probe.after(probe_start, inc=True) is None:
                raise _bad_rrule(never)
        first: datetime | None = rule.after(anchor, inc=True)
    except (ValueError, OverflowError):  # e.g. "byxxx generates an empty set"
        raise _bad_rrule(never) from None
    if first is None:
        raise _bad_rrule("the rule has no occurrence after its start (see UNTIL)")
    return RRule(rule, anchor, parts["FREQ"], int(parts.get("INTERVAL", "1")),
                 "COUNT" in parts)


def compile_cron(expr: str) -> Cron:
    """A 5-field cron expression checked and compiled; raises InvalidInput naming
    ``schedule.cron``."""
    text = " ".join(expr.split())
    fields = text.split(" ")
    if not (text.startswith("@") or len(fields) == 5) or not croniter.is_valid(text):
        raise InvalidInput("schedule.cron: not a 5-field cron expression like '0 2 * * 0'",
                           field="schedule.cron")
    try:
        compiled = Cron(text)
        next(compiled.iter_after(_DEFAULT_DTSTART, _DEFAULT_DTSTART))
    except (CroniterError, StopIteration, ValueError, KeyError, TypeError):
        raise InvalidInput("schedule.cron: the expression never occurs",
                           field="schedule.cron") from None
    return compiled


def load_zone(name: str) -> ZoneInfo:
    """An IANA time zone; raises InvalidInput naming ``schedule.timezone``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise InvalidInput(f"schedule.timezone: {name!r} is not an IANA time zone",
                           field="schedule.timezone") from None
