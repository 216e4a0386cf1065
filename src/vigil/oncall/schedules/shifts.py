"""Queries over a ``Schedule``: who is on call, final shifts, gaps, balance, next handoff.

All functions are pure: the schedule and the instants are passed in, instants must be
timezone-aware, and every datetime returned is UTC. The work is proportional to the number
of shift, restriction and override boundaries in the range, never to its length in minutes.

How a range is computed: each layer's rotation is cut into shifts at its handoffs and
intersected with its restriction windows; every boundary of every layer, temporary schedule
and override becomes a cut point; between two cut points the on-call set is constant and is
computed once (temporary schedule, else the highest layer with someone, then overrides).
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from vigil.errors import InvalidInput
from vigil.oncall.schedules.definition import (
    Interval,
    Layer,
    Override,
    OverrideKind,
    Rotation,
    Schedule,
    Shift,
    SwapState,
    Unit,
    Window,
    as_utc,
)

MAX_SPAN = timedelta(days=3 * 366)
_FAR = datetime.max.replace(tzinfo=UTC)
_TICK = timedelta(microseconds=1)
_DAY = timedelta(days=1)

_Segment = tuple[datetime, datetime, str]
_Span = tuple[datetime, datetime]
_Cover = tuple[datetime, datetime, frozenset[str]]


@dataclass(frozen=True, slots=True)
class CoverageSegment:
    """``users`` (sorted) are on call for all of ``[start, end)``."""

    start: datetime
    end: datetime
    users: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Handoff:
    at: datetime
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QualityReport:
    start: datetime
    end: datetime
    gaps: tuple[Interval, ...]
    hours: dict[str, float]

    @property
    def gap_hours(self) -> float:
        return sum(gap.hours for gap in self.gaps)

    @property
    def covered_fraction(self) -> float:
        total = (self.end - self.start).total_seconds() / 3600
        return 1.0 - self.gap_hours / total


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


def _add_months(value: datetime, months: int) -> datetime:
    index = value.month - 1 + months
    year, month = value.year + index // 12, index % 12 + 1
    return value.replace(year=year, month=month,
                         day=min(value.day, calendar.monthrange(year, month)[1]))


class _Handoffs:
    """The handoff instants of one rotation: shift ``k`` runs from ``at(k)`` to ``at(k+1)``."""

    def __init__(self, rotation: Rotation, zone: ZoneInfo) -> None:
        self.rotation = rotation
        self.zone = zone
        self.origin = _to_utc(rotation.start, zone)
        self.end = _FAR if rotation.end is None else _to_utc(rotation.end, zone)
        days = rotation.length * (7 if rotation.unit is Unit.WEEK else 1)
        self.step = (timedelta(hours=rotation.length) if rotation.unit is Unit.HOUR
                     else timedelta(days=days))

    def at(self, k: int) -> datetime:
        rot = self.rotation
        try:
            if rot.unit is Unit.HOUR:  # absolute elapsed hours
                return self.origin + k * self.step
            if rot.unit is Unit.MONTH:  # wall clock, day of month clamped
                local = _add_months(rot.start, k * rot.length)
            else:  # wall clock, whole days
                local = rot.start + k * self.step
            return _to_utc(local, self.zone)
        except (OverflowError, ValueError):
            return _FAR

    def index_at(self, t: datetime) -> int:
        """The shift containing ``t``, for ``t >= origin``."""
        rot = self.rotation
        if rot.unit is Unit.HOUR:
            k = (t - self.origin) // self.step
        else:
            local = t.astimezone(self.zone).replace(tzinfo=None)
            if rot.unit is Unit.MONTH:
                months = (local.year - rot.start.year) * 12 + local.month - rot.start.month
                k = months // rot.length
            else:
                k = (local - rot.start) // self.step
        k = max(k, 0)
        while k > 0 and self.at(k) > t:
            k -= 1
        while self.at(k + 1) <= t:
            k += 1
        return k


def _rotation_segments(rotation: Rotation, zone: ZoneInfo, a: datetime,
                       b: datetime) -> list[_Segment]:
    handoffs = _Handoffs(rotation, zone)
    lo, hi = max(a, handoffs.origin), min(b, handoffs.end)
    out: list[_Segment] = []
    if lo >= hi:
        return out
    people = rotation.participants
    k = handoffs.index_at(lo)
    start = handoffs.at(k)
    while start < hi:
        end = handoffs.at(k + 1)
        s, e = max(start, lo), min(end, hi)
        if s < e:
            out.append((s, e, people[k % len(people)]))
        k, start = k + 1, end
    return out


def _union(spans: list[_Span]) -> list[_Span]:
    out: list[_Span] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _window_spans(windows: Sequence[Window], zone: ZoneInfo, a: datetime,
                  b: datetime) -> list[_Span]:
    by_day: dict[int, list[Window]] = {}
    for window in windows:
        by_day.setdefault(window.weekday, []).append(window)
    day = a.astimezone(zone).date() - timedelta(days=1)
    last = b.astimezone(zone).date()
    raw: list[_Span] = []
    while day <= last:
        for w in by_day.get(day.weekday(), ()):
            end_day = day if w.end > w.start else day + timedelta(days=1)
            s = max(_to_utc(datetime.combine(day, w.start), zone), a)
            e = min(_to_utc(datetime.combine(end_day, w.end), zone), b)
            if s < e:
                raw.append((s, e))
        day += timedelta(days=1)
    return _union(raw)


def _restrict(segments: list[_Segment], spans: list[_Span]) -> list[_Segment]:
    out: list[_Segment] = []
    i = 0
    for s, e, user in segments:
        while i < len(spans) and spans[i][1] <= s:
            i += 1
        j = i
        while j < len(spans) and spans[j][0] < e:
            lo, hi = max(s, spans[j][0]), min(e, spans[j][1])
            if lo < hi:
                out.append((lo, hi, user))
            j += 1
    return out


class _Lookup:
    """Who a layer has on call at an instant, by bisection over its sorted segments."""

    def __init__(self, segments: list[_Segment]) -> None:
        self.starts = [s for s, _, _ in segments]
        self.ends = [e for _, e, _ in segments]
        self.users = [u for _, _, u in segments]

    def at(self, t: datetime) -> str | None:
        i = bisect_right(self.starts, t) - 1
        return self.users[i] if i >= 0 and t < self.ends[i] else None


def _layer_lookup(layer: Layer, zone: ZoneInfo, a: datetime, b: datetime) -> _Lookup:
    segments = _rotation_segments(layer.rotation, zone, a, b)
    if layer.restrictions:
        segments = _restrict(segments, _window_spans(layer.restrictions, zone, a, b))
    return _Lookup(segments)


def apply_override(override: Override, users: frozenset[str]) -> frozenset[str]:
    if override.kind is OverrideKind.ADD:
        return users | {override.user}
    if override.kind is OverrideKind.REMOVE:
        return users - {override.user}
    if override.replaces is None:
        return frozenset((override.user,))
    if override.replaces in users:
        return (users - {override.replaces}) | {override.user}
    return users


def _coverage(schedule: Schedule, a: datetime, b: datetime) -> list[_Cover]:
    """Contiguous segments covering ``[a, b)``; neighbours always differ in users."""
    layers = [_layer_lookup(layer, schedule.zone, a, b) for layer in schedule.layers]
    temps = [(t.start, t.end, [s for s in t.shifts if s.start < b and s.end > a])
             for t in schedule.temporary if t.start < b and t.end > a]
    overrides = [o for o in schedule.effective_overrides() if o.start < b and o.end > a]
    cuts = {a, b}
    for lookup in layers:
        cuts.update(lookup.starts)
        cuts.update(lookup.ends)
    for start, end, fixed in temps:
        cuts.update((start, end))
        cuts.update(t for s in fixed for t in (s.start, s.end))
    cuts.update(t for o in overrides for t in (o.start, o.end))
    out: list[_Cover] = []
    for x, y in pairwise(sorted(c for c in cuts if a <= c <= b)):
        users = _base(x, layers, temps)
        for override in overrides:
            if override.start <= x < override.end:
                users = apply_override(override, users)
        if out and out[-1][2] == users:
            out[-1] = (out[-1][0], y, users)
        else:
            out.append((x, y, users))
    return out


def _base(x: datetime, layers: list[_Lookup],
          temps: list[tuple[datetime, datetime, list[Shift]]]) -> frozenset[str]:
    for start, end, fixed in reversed(temps):
        if start <= x < end:
            return frozenset(s.user for s in fixed if s.start <= x < s.end)
    for lookup in reversed(layers):
        user = lookup.at(x)
        if user is not None:
            return frozenset((user,))
    return frozenset()


def _range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    a, b = as_utc(start, "start"), as_utc(end, "end")
    if b <= a:
        raise InvalidInput("end must be after start", field="end")
    if b - a > MAX_SPAN:
        raise InvalidInput(f"a range may span at most {MAX_SPAN.days} days", field="end")
    return a, b


# The instant query works in naive UTC: ``local - zone.utcoffset(local)`` is ``_to_utc``
# (fold 0: an ambiguous time is its first occurrence, a missing one moves forward) without
# building aware datetimes; ``_NAIVE_FAR`` is ``_FAR`` without its zone.
_NAIVE_FAR = _FAR.replace(tzinfo=None)


def _naive_utc(local: datetime, zone: ZoneInfo) -> datetime:
    offset = zone.utcoffset(local)
    assert offset is not None  # a ZoneInfo always has an offset
    return local - offset


def _handoff(rotation: Rotation, zone: ZoneInfo, k: int) -> datetime:
    """``_Handoffs.at(k)`` in naive UTC, for a day, week or month rotation."""
    try:
        if rotation.unit is Unit.MONTH:
            local = _add_months(rotation.start, k * rotation.length)
        else:
            days = rotation.length * (7 if rotation.unit is Unit.WEEK else 1)
            local = rotation.start + timedelta(days=k * days)
        return _naive_utc(local, zone)
    except (OverflowError, ValueError):
        return _NAIVE_FAR


def _rotation_user_at(rotation: Rotation, zone: ZoneInfo, t: datetime,
                      local: datetime) -> str | None:
    """Who ``rotation`` has on call at ``t`` (naive UTC; ``local`` is the wall clock):
    the shift containing ``t`` is found from its index, as ``_Handoffs.index_at`` does."""
    start, unit = rotation.start, rotation.unit
    if unit is Unit.HOUR:  # absolute elapsed hours: exact arithmetic
        origin = _naive_utc(start, zone)
        if t < origin:
            return None
        k = (t - origin) // timedelta(hours=rotation.length)
    else:
        if unit is Unit.MONTH:
            months = (local.year - start.year) * 12 + local.month - start.month
            k = max(months // rotation.length, 0)
        else:
            days = rotation.length * (7 if unit is Unit.WEEK else 1)
            k = max((local - start) // timedelta(days=days), 0)
        while _handoff(rotation, zone, k) > t:
            if k == 0:  # before the rotation starts
                return None
            k -= 1
        while _handoff(rotation, zone, k + 1) <= t:
            k += 1
    if rotation.end is not None and t >= _naive_utc(rotation.end, zone):
        return None
    people = rotation.participants
    return people[k % len(people)]


def _in_windows(windows: Sequence[Window], zone: ZoneInfo, t: datetime,
                days: Sequence[date]) -> bool:
    """Whether ``t`` (naive UTC) is inside one of ``windows``, as ``_window_spans`` cuts
    them, looking only at the windows that start on ``days``."""
    for day in days:
        weekday = day.weekday()
        for w in windows:
            if w.weekday != weekday or _naive_utc(datetime.combine(day, w.start), zone) > t:
                continue
            end_day = day if w.end > w.start else day + _DAY
            if _naive_utc(datetime.combine(end_day, w.end), zone) > t:
                return True
    return False


def _apply_at(users: set[str], kind: OverrideKind, user: str, replaces: str | None) -> None:
    """``apply_override``, in place."""
    if kind is OverrideKind.ADD:
        users.add(user)
    elif kind is OverrideKind.REMOVE:
        users.discard(user)
    elif replaces is None:
        users.clear()
        users.add(user)
    elif replaces in users:
        users.discard(replaces)
        users.add(user)


def on_call_at(schedule: Schedule, at: datetime) -> list[str]:
    """The users on call at instant ``at``, sorted (several with add overrides).

    The same answer as the first segment of ``_coverage(schedule, t, t + 1µs)``, but only
    what contains ``t`` is looked at: one shift per layer, the restriction windows of the
    days around ``t``, and the temporary schedules, swaps and overrides covering ``t``."""
    t = as_utc(at, "at")
    users: set[str] = set()
    for temp in reversed(schedule.temporary):
        if temp.start <= t < temp.end:
            users.update(s.user for s in temp.shifts if s.start <= t < s.end)
            break
    else:
        zone, naive = schedule.zone, t.replace(tzinfo=None)
        local = t.astimezone(zone).replace(tzinfo=None)
        days: list[date] | None = None
        for layer in reversed(schedule.layers):
            if layer.restrictions:
                if days is None:  # the days _window_spans would look at for [t, t + 1µs)
                    first, last = local.date() - _DAY, (t + _TICK).astimezone(zone).date()
                    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
                if not _in_windows(layer.restrictions, zone, naive, days):
                    continue
            user = _rotation_user_at(layer.rotation, zone, naive, local)
            if user is not None:
                users.add(user)
                break
    for swap in schedule.swaps:  # as their replace overrides, first
        if swap.state is not SwapState.ACCEPTED:
            continue
        if swap.start <= t < swap.end:
            _apply_at(users, OverrideKind.REPLACE, swap.counterpart, swap.requester)
        if (swap.return_start is not None and swap.return_end is not None
                and swap.return_start <= t < swap.return_end):
            _apply_at(users, OverrideKind.REPLACE, swap.requester, swap.counterpart)
    for override in schedule.overrides:
        if override.start <= t < override.end:
            _apply_at(users, override.kind, override.user, override.replaces)
    return sorted(users)


def coverage(schedule: Schedule, start: datetime, end: datetime) -> list[CoverageSegment]:
    """``[start, end)`` cut into maximal segments of constant on-call set (empty = gap)."""
    return [CoverageSegment(s, e, tuple(sorted(users)))
            for s, e, users in _coverage(schedule, *_range(start, end))]


def final_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Each user's maximal on-call stretches in ``[start, end)``, clipped to it, sorted by
    (start, user). Consecutive shifts of the same person are one shift."""
    a, b = _range(start, end)
    opened: dict[str, datetime] = {}
    out: list[Shift] = []
    for s, _, users in _coverage(schedule, a, b):
        for user in [u for u in opened if u not in users]:
            out.append(Shift(user, opened.pop(user), s))
        for user in users:
            opened.setdefault(user, s)
    out.extend(Shift(user, s, b) for user, s in opened.items())
    out.sort(key=lambda shift: (shift.start, shift.user))
    return out


def gaps(schedule: Schedule, start: datetime, end: datetime) -> list[Interval]:
    """The stretches of ``[start, end)`` with nobody on call."""
    return [Interval(s, e) for s, e, users in _coverage(schedule, *_range(start, end))
            if not users]


def balance(schedule: Schedule, start: datetime, end: datetime) -> dict[str, float]:
    """Hours on call per user in ``[start, end)``; everyone the schedule names is listed,
    with 0.0 if they had none. Overlapping coverage counts fully for each person."""
    hours = dict.fromkeys(schedule.participants(), 0.0)
    for s, e, users in _coverage(schedule, *_range(start, end)):
        for user in users:
            hours[user] = hours.get(user, 0.0) + (e - s).total_seconds() / 3600
    return dict(sorted(hours.items()))


def quality_report(schedule: Schedule, start: datetime, end: datetime) -> QualityReport:
    a, b = _range(start, end)
    return QualityReport(a, b, tuple(gaps(schedule, a, b)), balance(schedule, a, b))


def next_handoff(schedule: Schedule, after: datetime,
                 horizon: timedelta = timedelta(days=366)) -> Handoff | None:
    """The first change of the on-call set strictly after ``after``, within ``horizon``."""
    t = as_utc(after, "after")
    if not timedelta(0) < horizon <= MAX_SPAN:
        raise InvalidInput(f"horizon must be positive and at most {MAX_SPAN.days} days",
                           field="horizon")
    span = min(timedelta(days=7), horizon)
    while True:
        cov = _coverage(schedule, t, t + span)
        if len(cov) > 1:
            return Handoff(cov[1][0], tuple(sorted(cov[0][2])), tuple(sorted(cov[1][2])))
        if span >= horizon:
            return None
        span = min(span * 4, horizon)
