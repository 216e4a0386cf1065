"""The definition of an on-call schedule, as immutable data.

Time model:

- A rotation's start and end and a restriction's windows are *local wall-clock* values
  (naive ``datetime``/``time``) in the schedule's IANA zone.
- Every instant (overrides, temporary schedules, swaps, query arguments and results) is a
  timezone-aware ``datetime``. Aware values in another zone are converted; results are UTC.
  A naive instant raises ``NaiveDatetimeError`` (both an ``InvalidInput`` and a ``ValueError``).
- Rotations measured in days, weeks or months hand off at the same local wall-clock time
  whatever daylight saving does: a daily 09:00 Europe/Berlin rotation hands off at 09:00 on
  both sides of a change, so the shift that spans it lasts 23 or 25 hours. Monthly rotations
  hand off on the start's day of the month, clamped to the month's last day (the 31st becomes
  the 30th or 28th/29th, and the 31st again the month after). A local handoff that does not
  exist (spring-forward gap) is moved forward by the gap's length (02:30 becomes 03:30); an
  ambiguous one (fall-back) is the first occurrence.
- Rotations measured in hours (hourly, or custom "12 hours") are *absolute*: each shift lasts
  exactly N elapsed hours, counted from the rotation start. Wall-clock hours would create
  zero-length or two-hour shifts inside a DST change; the price is that a 12-hour rotation's
  local handoff moves by an hour when DST starts or ends.

Precedence: ``Schedule.layers`` is ordered lowest first; a later layer wins wherever it has
someone on call, and lower layers show through where it has nobody (outside its
restrictions, before its start, after its end). A temporary schedule replaces all layers
for its period. Then accepted swaps, then overrides, are applied in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from vigil.errors import Conflict, Forbidden, InvalidInput

WEEKDAYS: tuple[int, ...] = (0, 1, 2, 3, 4)
ALL_DAYS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
_MIN_YEAR, _MAX_YEAR = 2, 9998


class NaiveDatetimeError(InvalidInput, ValueError):
    """A datetime without a time zone where an instant is required."""


def as_utc(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; naive or out-of-range values are rejected."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{name} must be a datetime, got {type(value).__name__}", field=name)
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"{name} must be timezone-aware (UTC), got {value!r}",
                                 field=name)
    try:
        converted = value.astimezone(UTC)
    except OverflowError:
        converted = None
    if converted is None or not _MIN_YEAR <= converted.year <= _MAX_YEAR:
        raise InvalidInput(f"{name} is out of range: {value.isoformat()}", field=name)
    return converted


def _check_local(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise InvalidInput(f"{name} must be a local datetime", field=name)
    if value.tzinfo is not None:
        raise InvalidInput(f"{name} must be local wall-clock time without a zone", field=name)
    if not _MIN_YEAR <= value.year <= _MAX_YEAR:
        raise InvalidInput(f"{name} is out of range: {value.isoformat()}", field=name)


def _check_user(value: str, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be a non-empty user id", field=name)


def _set_utc(obj: object, *names: str) -> None:
    for name in names:
        object.__setattr__(obj, name, as_utc(getattr(obj, name), name))


def _check_order(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInput(f"end ({end.isoformat()}) must be after start ({start.isoformat()})",
                           field="end")


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass(frozen=True, slots=True)
class Shift:
    """One person on call from ``start`` (inclusive) to ``end`` (exclusive)."""

    user: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _check_user(self.user, "user")
        _set_utc(self, "start", "end")
        _check_order(self.start, self.end)

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


class Unit(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Rotation:
    """Participants take turns, one shift of ``length`` ``unit``s each, from ``start``.

    ``start`` is the first handoff, local to the schedule's zone; its time of day is the
    handoff time. ``end`` (local, exclusive) stops the rotation. A user may appear more than
    once in ``participants``.
    """

    participants: tuple[str, ...]
    start: datetime
    unit: Unit = Unit.DAY
    length: int = 1
    end: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "participants", tuple(self.participants))
        if not self.participants:
            raise InvalidInput("a rotation needs at least one participant", field="participants")
        for i, user in enumerate(self.participants):
            _check_user(user, f"participants[{i}]")
        if not isinstance(self.unit, Unit):
            raise InvalidInput(f"unknown rotation unit {self.unit!r}", field="unit")
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 1:
            raise InvalidInput(f"length must be a positive whole number, got {self.length!r}",
                               field="length")
        _check_local(self.start, "start")
        if self.end is not None:
            _check_local(self.end, "end")
            _check_order(self.start, self.end)


@dataclass(frozen=True, slots=True)
class Window:
    """A weekly window when a layer is active: ``weekday`` (0 = Monday) from ``start`` to
    ``end`` local time. ``end <= start`` spans midnight into the next day (``end == start``
    is 24 hours, so 00:00-00:00 is the whole day)."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if isinstance(self.weekday, bool) or self.weekday not in ALL_DAYS:
            raise InvalidInput(f"weekday must be 0 (Monday) to 6, got {self.weekday!r}",
                               field="weekday")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise InvalidInput(f"{name} must be a local time of day", field=name)


def daily_windows(start: time, end: time, days: Iterable[int] = ALL_DAYS) -> tuple[Window, ...]:
    """The same window on each of ``days`` (0 = Monday)."""
    return tuple(Window(day, start, end) for day in days)


def weekdays_only() -> tuple[Window, ...]:
    """Monday 00:00 to Saturday 00:00."""
    return daily_windows(time(0), time(0), WEEKDAYS)


def business_hours(start: time = time(9), end: time = time(17),
                   days: Iterable[int] = WEEKDAYS) -> tuple[Window, ...]:
    """Monday to Friday 09:00-17:00 by default."""
    return daily_windows(start, end, days)


@dataclass(frozen=True, slots=True)
class Layer:
    """A rotation, active only inside ``restrictions`` when there are any."""

    name: str
    rotation: Rotation
    restrictions: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "restrictions", tuple(self.restrictions))


class OverrideKind(StrEnum):
    ADD = "add"          # ``user`` is on call in addition to whoever is
    REMOVE = "remove"    # ``user`` is not on call during the range
    REPLACE = "replace"  # ``user`` takes the slot of whoever is on (or only of ``replaces``)


@dataclass(frozen=True, slots=True)
class Override:
    """A change for ``[start, end)``. A ``replace`` with no ``replaces`` puts ``user`` on
    call alone for the range, even where nobody was; with ``replaces`` it swaps that one
    person for ``user`` only where they are on call."""

    kind: OverrideKind
    user: str
    start: datetime
    end: datetime
    replaces: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, OverrideKind):
            raise InvalidInput(f"unknown override type {self.kind!r}", field="type")
        _check_user(self.user, "user")
        _set_utc(self, "start", "end")
        _check_order(self.start, self.end)
        if self.replaces is not None:
            if self.kind is not OverrideKind.REPLACE:
                raise InvalidInput("replaces is only valid on a replace override",
                                   field="replaces")
            _check_user(self.replaces, "replaces")


@dataclass(frozen=True, slots=True)
class TemporarySchedule:
    """Fixed shifts that replace the whole schedule for ``[start, end)``. Time in the
    period that no shift covers is a gap; shifts are clipped to the period."""

    start: datetime
    end: datetime
    shifts: tuple[Shift, ...] = ()

    def __post_init__(self) -> None:
        _set_utc(self, "start", "end")
        _check_order(self.start, self.end)
        object.__setattr__(self, "shifts", tuple(self.shifts))


class SwapState(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class SwapTransitionError(Conflict):
    """The swap is not in a state that allows this action."""


@dataclass(frozen=True, slots=True)
class Swap:
    """``counterpart`` covers ``requester`` for ``[start, end)``; for a trade, ``requester``
    covers ``counterpart`` for ``[return_start, return_end)`` too. Takes effect only once
    accepted, as replace overrides."""

    id: str
    requester: str
    counterpart: str
    start: datetime
    end: datetime
    return_start: datetime | None = None
    return_end: datetime | None = None
    state: SwapState = SwapState.REQUESTED

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise InvalidInput("a swap needs a non-empty id", field="id")
        _check_user(self.requester, "requester")
        _check_user(self.counterpart, "counterpart")
        if self.requester == self.counterpart:
            raise InvalidInput("a swap needs two different users", field="counterpart")
        _set_utc(self, "start", "end")
        _check_order(self.start, self.end)
        if (self.return_start is None) != (self.return_end is None):
            raise InvalidInput("return_start and return_end go together", field="return_end")
        if self.return_start is not None and self.return_end is not None:
            _set_utc(self, "return_start", "return_end")
            if self.return_end <= self.return_start:
                raise InvalidInput("return_end must be after return_start", field="return_end")
        if not isinstance(self.state, SwapState):
            raise InvalidInput(f"unknown swap state {self.state!r}", field="state")

    def overrides(self) -> tuple[Override, ...]:
        """The replace overrides this swap stands for; none unless accepted."""
        if self.state is not SwapState.ACCEPTED:
            return ()
        out = [Override(OverrideKind.REPLACE, self.counterpart, self.start, self.end,
                        replaces=self.requester)]
        if self.return_start is not None and self.return_end is not None:
            out.append(Override(OverrideKind.REPLACE, self.requester, self.return_start,
                                self.return_end, replaces=self.counterpart))
        return tuple(out)


def _transition(swap: Swap, target: SwapState, actor: str, allowed_actor: str) -> Swap:
    if swap.state is not SwapState.REQUESTED:
        raise SwapTransitionError(
            f"swap {swap.id} is {swap.state.value}; cannot become {target.value}",
            field="state")
    if actor != allowed_actor:
        raise Forbidden(f"only {allowed_actor} may make swap {swap.id} {target.value}",
                        field="actor")
    return replace(swap, state=target)


def accept_swap(swap: Swap, by: str) -> Swap:
    """requested -> accepted, by the counterpart."""
    return _transition(swap, SwapState.ACCEPTED, by, swap.counterpart)


def decline_swap(swap: Swap, by: str) -> Swap:
    """requested -> declined, by the counterpart."""
    return _transition(swap, SwapState.DECLINED, by, swap.counterpart)


def cancel_swap(swap: Swap, by: str) -> Swap:
    """requested -> cancelled, by the requester."""
    return _transition(swap, SwapState.CANCELLED, by, swap.requester)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Layers are ordered lowest precedence first: the last layer with someone on call wins."""

    name: str
    zone: ZoneInfo
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()
    temporary: tuple[TemporarySchedule, ...] = ()
    swaps: tuple[Swap, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.zone, ZoneInfo):
            raise InvalidInput("zone must be a zoneinfo.ZoneInfo", field="time_zone")
        for name in ("layers", "overrides", "temporary", "swaps"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def participants(self) -> tuple[str, ...]:
        """Everyone named by a layer, an override, a temporary shift or a swap, sorted."""
        users: set[str] = set()
        for layer in self.layers:
            users.update(layer.rotation.participants)
        for override in self.overrides:
            users.add(override.user)
        for temp in self.temporary:
            users.update(s.user for s in temp.shifts)
        for swap in self.swaps:
            if swap.state is SwapState.ACCEPTED:
                users.update((swap.requester, swap.counterpart))
        return tuple(sorted(users))

    def effective_overrides(self) -> tuple[Override, ...]:
        """Accepted swaps' overrides, then the explicit overrides, in application order."""
        swapped = tuple(o for swap in self.swaps for o in swap.overrides())
        return swapped + self.overrides

