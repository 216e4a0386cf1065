"""Maintenance windows: when, and for which alerts, triggers are expected and kept quiet.
Pure: no database, no clock; every time is passed in and every datetime is aware.

A window has label matchers (none = every alert of the tenant) and is either

* one-off: ``starts_at <= t < ends_at``; or
* recurring: occurrences start on a schedule, a 5-field cron expression (croniter) or an
  RFC 5545 RRULE (dateutil), and each lasts ``duration``. The schedule is evaluated on the
  wall clock of ``timezone`` (IANA), so "Sunday 02:00 Europe/Berlin" stays at 02:00 local
  time on both sides of a DST change. ``starts_at``/``ends_at`` optionally bound the series:
  an occurrence belongs to it when it *starts* in ``[starts_at, ends_at)``, and it is cut
  short at ``ends_at``.

Local times the clock skips (the spring-forward gap) start at the moment of the jump, e.g.
Berlin 02:30 on the last Sunday of March starts at 03:00 CEST (01:00Z); ambiguous local times
(the autumn fold) are taken at their first occurrence. Durations are elapsed time, so a
2-hour window over the autumn change ends 2 real hours later. Occurrence intervals are
half-open: active at the start, not at the end.

For an RRULE, DTSTART is ``starts_at`` in the window's zone (to the minute) or, without
``starts_at``, 2001-01-01T00:00 local time (a Monday): parts the rule leaves out default from
it as RFC 5545 says (so ``FREQ=DAILY`` alone is daily at midnight). ``COUNT`` therefore needs
``starts_at``. ``UNTIL`` may be UTC (``...Z``, as RFC 5545 wants with a zoned DTSTART), local
(no ``Z``) or a date (the whole day, local).
"""

from __future__ import annotations

import calendar
import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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

from vigil.core.event import Action
from vigil.core.submission import Submission
from vigil.errors import InvalidInput
from vigil.muting.matchers import Matcher, all_match, matcher, parse
from vigil.muting.silences import mute_labels

__all__ = [
    "MAX_DURATION",
    "MAX_OCCURRENCES",
    "ActiveWindow",
    "MaintenanceSpec",
    "active_at",
    "in_maintenance",
    "next_occurrences",
    "validate_window",
    "window_to_dict",
]

#: The longest one occurrence (or one-off window) may last.
MAX_DURATION = timedelta(days=366)
#: ``next_occurrences`` returns at most this many.
MAX_OCCURRENCES = 1000
MAX_MATCHERS = 50
_MAX_COUNT = 1000
_MAX_INTERVAL = 10_000
# Recurrences run on naive local wall time (the DTZ noqa below are on purpose).
_DEFAULT_DTSTART = datetime(2001, 1, 1)  # noqa: DTZ001  # a Monday, 1 January, midnight
_HORIZON_YEARS = 10  # a schedule must occur at least once in this many years from DTSTART
_LOOKBACK = timedelta(hours=3)  # > any DST shift; for the offsets in force around a time

_ONE_US = timedelta(microseconds=1)
_ONE_S = timedelta(seconds=1)


# --- time zone arithmetic ---------------------------------------------------------------


def _aware(t: datetime, what: str = "time") -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return t.astimezone(UTC)


def _wall(t: datetime, tz: ZoneInfo) -> datetime:
    """An aware instant as naive local wall time in ``tz``."""
    return t.astimezone(tz).replace(tzinfo=None)


def _to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """Naive local wall time in ``tz`` -> the UTC instant, non-decreasing in ``wall``: a
    skipped (gap) time maps to the instant of the jump, an ambiguous one to its first pass."""
    u: datetime = wall.replace(tzinfo=tz).astimezone(UTC)
    if _wall(u, tz) == wall:
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


def _max_offset(t: datetime, tz: ZoneInfo) -> timedelta:
    offsets = [x.astimezone(tz).utcoffset() for x in (t - _LOOKBACK, t)]
    return max(o for o in offsets if o is not None)


# --- recurrences on naive wall time ------------------------------------------------------


class _Recurrence(Protocol):
    def before(self, wall: datetime, *, inc: bool) -> datetime | None:
        """The latest occurrence (wall time) before ``wall`` (or at it, with ``inc``)."""

    def iter_after(self, wall: datetime | None, default: datetime) -> Iterator[datetime]:
        """Occurrences strictly after ``wall``, ascending; from ``default`` (or the very
        first) when ``wall`` is None."""


class _Cron:
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


class _RRule:
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
            return _wall(utc, tz).strftime("%Y%m%dT%H%M%S")
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


def _compile_rrule(text: str, tz: ZoneInfo, starts_at: datetime | None) -> _RRule:
    parts = _rrule_parts(text)
    if "COUNT" in parts and starts_at is None:
        raise _bad_rrule("COUNT needs starts_at (or use ends_at)")
    if "UNTIL" in parts:
        parts["UNTIL"] = _local_until(parts["UNTIL"], tz)
    anchor = (_wall(starts_at, tz).replace(second=0, microsecond=0) if starts_at is not None
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
    return _RRule(rule, anchor, parts["FREQ"], int(parts.get("INTERVAL", "1")),
                  "COUNT" in parts)


def _compile_cron(expr: str) -> _Cron:
    text = " ".join(expr.split())
    fields = text.split(" ")
    if not (text.startswith("@") or len(fields) == 5) or not croniter.is_valid(text):
        raise InvalidInput("schedule.cron: not a 5-field cron expression like '0 2 * * 0'",
                           field="schedule.cron")
    try:
        compiled = _Cron(text)
        next(compiled.iter_after(_DEFAULT_DTSTART, _DEFAULT_DTSTART))
    except (CroniterError, StopIteration, ValueError, KeyError, TypeError):
        raise InvalidInput("schedule.cron: the expression never occurs",
                           field="schedule.cron") from None
    return compiled


def _load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise InvalidInput(f"schedule.timezone: {name!r} is not an IANA time zone",
                           field="schedule.timezone") from None


# --- the window --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaintenanceSpec:
    """A validated window. Build one with :func:`validate_window` (from a dict) or
    directly; the constructor checks the same invariants and compiles the schedule."""

    matchers: tuple[Matcher, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    cron: str | None = None
    rrule: str | None = None
    timezone: str = "UTC"
    duration: timedelta | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _rec: _Recurrence | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = _aware(self.starts_at, "starts_at") if self.starts_at is not None else None
        ends = _aware(self.ends_at, "ends_at") if self.ends_at is not None else None
        object.__setattr__(self, "starts_at", starts)
        object.__setattr__(self, "ends_at", ends)
        if starts is not None and ends is not None and ends <= starts:
            raise InvalidInput("ends_at must be after starts_at", field="ends_at")
        zone = _load_zone(self.timezone)
        object.__setattr__(self, "_zone", zone)
        rec: _Recurrence | None = None
        if self.cron is not None and self.rrule is not None:
            raise InvalidInput("schedule: give cron or rrule, not both", field="schedule")
        if self.cron is None and self.rrule is None:
            if starts is None or ends is None:
                field_ = "starts_at" if starts is None else "ends_at"
                raise InvalidInput("a one-off window needs starts_at and ends_at "
                                   "(or a schedule)", field=field_)
            if self.duration is not None:
                raise InvalidInput("a one-off window takes ends_at, not a duration",
                                   field="duration_minutes")
            if ends - starts > MAX_DURATION:
                raise InvalidInput("a window may last at most 366 days", field="ends_at")
        else:
            if self.duration is None or self.duration <= timedelta(0):
                raise InvalidInput("a recurring window needs a positive duration",
                                   field="duration_minutes")
            if self.duration > MAX_DURATION:
                raise InvalidInput("an occurrence may last at most 366 days",
                                   field="duration_minutes")
            rec = (_compile_cron(self.cron) if self.cron is not None
                   else _compile_rrule(str(self.rrule), zone, starts))
        object.__setattr__(self, "_rec", rec)

    @property
    def recurring(self) -> bool:
        return self._rec is not None

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    # The latest occurrence starting at or before ``t``: (wall time, UTC start).
    def _latest(self, t: datetime) -> tuple[datetime, datetime] | None:
        rec, tz = self._rec, self._zone
        assert rec is not None
        wall = rec.before(t.replace(tzinfo=None) + _max_offset(t, tz), inc=True)
        while wall is not None:  # steps only while offsets differ (near a DST change)
            start = _to_utc(wall, tz)
            if start <= t:
                return wall, start
            wall = rec.before(wall, inc=False)
        return None

    def _starts_after(self, t: datetime) -> Iterator[datetime]:
        """UTC starts strictly after ``t``, non-decreasing, without repeats."""
        rec, tz = self._rec, self._zone
        assert rec is not None
        latest = self._latest(t)
        default = t.replace(tzinfo=None) + _max_offset(t, tz) - 2 * _LOOKBACK
        last: datetime | None = None
        for wall in rec.iter_after(latest[0] if latest else None, default):
            start = _to_utc(wall, tz)
            if start > t and start != last:
                last = start
                yield start

    def _clip(self, start: datetime) -> tuple[datetime, datetime]:
        assert self.duration is not None
        end = start + self.duration
        if self.ends_at is not None and end > self.ends_at:
            end = self.ends_at
        return start, end


def active_at(spec: MaintenanceSpec, t: datetime) -> tuple[datetime, datetime] | None:
    """The occurrence covering ``t`` as (start, end) in UTC, or None. Start inclusive, end
    exclusive; a recurring window's end is cut at its ``ends_at``."""
    t = _aware(t)
    if not spec.recurring:
        assert spec.starts_at is not None and spec.ends_at is not None
        return (spec.starts_at, spec.ends_at) if spec.starts_at <= t < spec.ends_at else None
    if spec.starts_at is not None and t < spec.starts_at:
        return None
    if spec.ends_at is not None and t >= spec.ends_at:
        return None
    latest = spec._latest(t)
    if latest is None or (spec.starts_at is not None and latest[1] < spec.starts_at):
        return None
    start, end = spec._clip(latest[1])
    return (start, end) if t < end else None


def next_occurrences(spec: MaintenanceSpec, after: datetime,
                     n: int) -> list[tuple[datetime, datetime]]:
    """Up to ``n`` (at most :data:`MAX_OCCURRENCES`) occurrences as (start, end) in UTC that
    have not ended at ``after``, in order: the one in progress (if any), then those to come."""
    after = _aware(after)
    n = min(n, MAX_OCCURRENCES)
    if n <= 0:
        return []
    if not spec.recurring:
        assert spec.starts_at is not None and spec.ends_at is not None
        return [(spec.starts_at, spec.ends_at)] if after < spec.ends_at else []
    out: list[tuple[datetime, datetime]] = []
    current = active_at(spec, after)
    if current is not None:
        out.append(current)
    lo = after
    if spec.starts_at is not None and spec.starts_at > after:
        lo = spec.starts_at - _ONE_US  # starts at or after starts_at
    for start in spec._starts_after(lo):
        if len(out) >= n or (spec.ends_at is not None and start >= spec.ends_at):
            break
        out.append(spec._clip(start))
    return out


# --- from and to dicts ---------------------------------------------------------------------


def _datetime(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"{where}: {value!r} is not an ISO 8601 date-time",
                               field=where) from None
    else:
        raise InvalidInput(f"{where}: expected an ISO 8601 date-time", field=where)
    # Naive times are UTC, as everywhere in Vigil.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _matchers(value: Any) -> tuple[Matcher, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise InvalidInput("matchers: expected a list", field="matchers")
    if len(value) > MAX_MATCHERS:
        raise InvalidInput(f"matchers: at most {MAX_MATCHERS}", field="matchers")
    out: list[Matcher] = []
    for i, item in enumerate(value):
        where = f"matchers[{i}]"
        if isinstance(item, Matcher):
            out.append(item)
        elif isinstance(item, str):
            out.append(parse(item, field=where))
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str) \
                and isinstance(item.get("value"), str):
            out.append(matcher(item["name"], str(item.get("op", "=")), item["value"],
                               field=where))
        else:
            raise InvalidInput(f"{where}: expected 'name=\"value\"' or "
                               f"{{name, op, value}}", field=where)
    return tuple(out)


def _minutes(value: Any) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("duration_minutes: expected a whole number of minutes",
                           field="duration_minutes")
    if value <= 0:
        raise InvalidInput("duration_minutes must be positive", field="duration_minutes")
    if value > MAX_DURATION // timedelta(minutes=1):
        raise InvalidInput("duration_minutes: at most 366 days", field="duration_minutes")
    return timedelta(minutes=value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}: expected a non-empty string", field=where)
    if len(value) > 1000:
        raise InvalidInput(f"{where}: too long", field=where)
    return value.strip()


def validate_window(data: Mapping[str, Any], *, now: datetime | None = None) -> MaintenanceSpec:
    """A window from its JSON form; raises InvalidInput naming the offending field.

    ``{"matchers": ['service="db"', {"name": .., "op": .., "value": ..}],  # none = all
       "starts_at": ISO, "ends_at": ISO,         # one-off: both (or starts_at + duration)
       "duration_minutes": int,                  # recurring: required
       "schedule": {"cron": "0 2 * * 0" | "rrule": "FREQ=...", "timezone": "Europe/Berlin"}}``

    Other top-level keys (name, comment, ...) are the caller's and are ignored. Naive times
    are UTC. With ``now``, a one-off window's ``starts_at`` defaults to it and a window
    with nothing left after ``now`` is refused; leave ``now`` out to re-load stored windows.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput("expected an object", field="body")
    matchers = _matchers(data.get("matchers"))
    starts = _datetime(data["starts_at"], "starts_at") \
        if data.get("starts_at") is not None else None
    ends = _datetime(data["ends_at"], "ends_at") if data.get("ends_at") is not None else None
    duration = _minutes(data["duration_minutes"]) \
        if data.get("duration_minutes") is not None else None
    schedule = data.get("schedule")
    cron = rrule = None
    timezone = "UTC"
    if schedule is not None:
        if not isinstance(schedule, Mapping):
            raise InvalidInput("schedule: expected an object", field="schedule")
        for key in schedule:
            if key not in ("cron", "rrule", "timezone"):
                raise InvalidInput(f"schedule: unknown field {key!r}", field=f"schedule.{key}")
        if schedule.get("cron") is not None:
            cron = _text(schedule["cron"], "schedule.cron")
        if schedule.get("rrule") is not None:
            rrule = _text(schedule["rrule"], "schedule.rrule")
        if schedule.get("timezone") is not None:
            timezone = _text(schedule["timezone"], "schedule.timezone")
        if cron is None and rrule is None:
            raise InvalidInput("schedule: give cron or rrule", field="schedule")
    else:
        if starts is None and now is not None:
            starts = _aware(now, "now")
        if duration is not None:
            if ends is not None:
                raise InvalidInput("give ends_at or duration_minutes, not both",
                                   field="ends_at")
            if starts is not None:
                ends, duration = starts + duration, None
    spec = MaintenanceSpec(matchers=matchers, starts_at=starts, ends_at=ends, cron=cron,
                           rrule=rrule, timezone=timezone, duration=duration)
    if now is not None:
        now = _aware(now, "now")
        if spec.ends_at is not None and spec.ends_at <= now:
            raise InvalidInput("ends_at is in the past", field="ends_at")
        if not next_occurrences(spec, now, 1):
            raise InvalidInput("the schedule has no occurrence after now", field="schedule")
    return spec


def window_to_dict(spec: MaintenanceSpec) -> dict[str, Any]:
    """The JSON form :func:`validate_window` reads back (matchers as objects)."""
    out: dict[str, Any] = {
        "matchers": [{"name": m.name, "op": m.op, "value": m.value} for m in spec.matchers],
        "starts_at": spec.starts_at.isoformat() if spec.starts_at else None,
        "ends_at": spec.ends_at.isoformat() if spec.ends_at else None,
    }
    if spec.recurring:
        assert spec.duration is not None
        out["duration_minutes"] = spec.duration // timedelta(minutes=1)
        out["schedule"] = {"timezone": spec.timezone,
                           **({"cron": spec.cron} if spec.cron is not None
                              else {"rrule": spec.rrule})}
    return out


# --- muting a batch ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActiveWindow:
    """A stored window as the pipeline sees it (active or not at a given moment)."""

    id: int
    tenant_id: int
    spec: MaintenanceSpec


def in_maintenance(windows: Sequence[ActiveWindow], batch: list[Submission],
                   now: datetime) -> dict[int, int]:
    """Index in ``batch`` -> the id of the first window (in ``windows`` order) of the
    submission's tenant that is in an occurrence at ``now`` and whose matchers match the
    trigger's labels (:func:`vigil.muting.silences.mute_labels`). Each window's schedule is
    evaluated once per call, whatever the batch size."""
    out: dict[int, int] = {}
    if not windows or not batch:
        return out
    tenants = {s.tenant_id for s in batch}
    by_tenant: dict[int, list[ActiveWindow]] = {}
    for w in windows:
        if w.tenant_id in tenants and active_at(w.spec, now) is not None:
            by_tenant.setdefault(w.tenant_id, []).append(w)
    if not by_tenant:
        return out
    for i, sub in enumerate(batch):
        if sub.event.action is not Action.TRIGGER:
            continue
        candidates = by_tenant.get(sub.tenant_id)
        if not candidates:
            continue
        labels = mute_labels(sub.event)
        for w in candidates:
            if all_match(w.spec.matchers, labels):
                out[i] = w.id
                break
    return out
