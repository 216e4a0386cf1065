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

The schedules themselves (cron and RRULE on a zone's wall clock, DST gaps and folds, RRULE
DTSTART and UNTIL) are :mod:`vigil.muting.recurrence`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from vigil.core.event import Action
from vigil.core.submission import Submission
from vigil.errors import InvalidInput
from vigil.muting.matchers import Matcher, all_match, matcher, parse
from vigil.muting.recurrence import (
    LOOKBACK,
    Recurrence,
    compile_cron,
    compile_rrule,
    load_zone,
    max_offset,
    wall_to_utc,
)
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

_ONE_US = timedelta(microseconds=1)


def _aware(t: datetime, what: str = "time") -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return t.astimezone(UTC)


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
    _rec: Recurrence | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = _aware(self.starts_at, "starts_at") if self.starts_at is not None else None
        ends = _aware(self.ends_at, "ends_at") if self.ends_at is not None else None
        object.__setattr__(self, "starts_at", starts)
        object.__setattr__(self, "ends_at", ends)
        if starts is not None and ends is not None and ends <= starts:
            raise InvalidInput("ends_at must be after starts_at", field="ends_at")
        zone = load_zone(self.timezone)
        object.__setattr__(self, "_zone", zone)
        rec: Recurrence | None = None
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
            rec = (compile_cron(self.cron) if self.cron is not None
                   else compile_rrule(str(self.rrule), zone, starts))
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
        wall = rec.before(t.replace(tzinfo=None) + max_offset(t, tz), inc=True)
        while wall is not None:  # steps only while offsets differ (near a DST change)
            start = wall_to_utc(wall, tz)
            if start <= t:
                return wall, start
            wall = rec.before(wall, inc=False)
        return None

    def _starts_after(self, t: datetime) -> Iterator[datetime]:
        """UTC starts strictly after ``t``, non-decreasing, without repeats."""
        rec, tz = self._rec, self._zone
        assert rec is not None
        latest = self._latest(t)
        default = t.replace(tzinfo=None) + max_offset(t, tz) - 2 * LOOKBACK
        last: datetime | None = None
        for wall in rec.iter_after(latest[0] if latest else None, default):
            start = wall_to_utc(wall, tz)
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
