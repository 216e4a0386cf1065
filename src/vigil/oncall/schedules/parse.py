"""Build a ``Schedule`` from plain dicts (loaded from YAML or JSON), or raise
``InvalidInput`` naming the offending field, e.g. ``layers[0].rotation.length``.

Shape (unknown keys are rejected, so typos do not pass silently)::

    name: primary
    time_zone: Europe/Berlin
    layers:                      # lowest precedence first
      - name: follow-the-sun
        rotation:
          type: daily            # hourly | daily | weekly | monthly | custom
          length: 1              # count of the type's unit; custom: "12h", "3d", "2w", "1mo"
          start: "2024-03-01"    # local date or date-time (no offset)
          handoff: "09:00"       # local time of day; defaults to start's time
          end: "2024-12-01T09:00"    # optional, local
          participants: [alice, bob, carol]
        restrictions:            # optional; presets "weekdays", "business_hours"
          - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
          - {day: fri, start: "22:00", end: "06:00"}   # spans midnight
    overrides:
      - {type: replace, user: dave, replaces: alice,
         start: "2024-03-05T08:00:00Z", end: "2024-03-06T08:00:00Z"}
    temporary:
      - {start: ..., end: ..., shifts: [{user: erin, start: ..., end: ...}]}
    swaps:
      - {id: s1, requester: alice, counterpart: bob, start: ..., end: ..., state: accepted}

Instants (overrides, temporary schedules, swaps) need an explicit offset or ``Z``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vigil.errors import InvalidInput
from vigil.oncall.dicts import as_list as _list
from vigil.oncall.dicts import join as _join
from vigil.oncall.dicts import mapping as _mapping
from vigil.oncall.dicts import required as _required
from vigil.oncall.schedules.definition import (
    Layer,
    Override,
    OverrideKind,
    Rotation,
    Schedule,
    Shift,
    Swap,
    SwapState,
    TemporarySchedule,
    Unit,
    Window,
    as_utc,
    business_hours,
    weekdays_only,
)

T = TypeVar("T")

_TYPES = {"hourly": Unit.HOUR, "daily": Unit.DAY, "weekly": Unit.WEEK, "monthly": Unit.MONTH}
_CUSTOM = re.compile(r"^\s*(\d+)\s*(h|hours?|d|days?|w|weeks?|mo|months?)\s*$", re.I)
_CUSTOM_UNITS = {"h": Unit.HOUR, "d": Unit.DAY, "w": Unit.WEEK, "m": Unit.MONTH}
_DAYS = {name: i for i, names in enumerate(
    ("mon monday", "tue tues tuesday", "wed wednesday", "thu thur thurs thursday",
     "fri friday", "sat saturday", "sun sunday")) for name in names.split()}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _user(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("expected a non-empty user id", field=path)
    return value.strip()


def _build(path: str, factory: Callable[..., T], **kwargs: Any) -> T:
    """Call a dataclass constructor, prefixing any field it names with ``path``."""
    try:
        return factory(**kwargs)
    except InvalidInput as exc:
        field = _join(path, exc.field) if exc.field else path or None
        raise InvalidInput(exc.message, field=field) from exc


def _zone(value: Any, path: str) -> ZoneInfo:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("expected an IANA time zone name such as Europe/Berlin", field=path)
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"unknown time zone {value!r}", field=path) from None


def _time(value: Any, path: str, *, allow_24: bool = False) -> time:
    if isinstance(value, time):
        return value
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        hint = " (quote it: YAML reads 17:00 as a number)" if isinstance(value, int) else ""
        raise InvalidInput(f"expected a time as \"HH:MM\", got {value!r}{hint}", field=path)
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if allow_24 and (hour, minute, second) == (24, 0, 0):
        return time(0)
    if hour > 23 or minute > 59 or second > 59:
        raise InvalidInput(f"time out of range: {value!r}", field=path)
    return time(hour, minute, second)


def _local(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(0))
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"expected a local date or date-time (ISO 8601), got {value!r}",
                               field=path) from None
    else:
        raise InvalidInput("expected a local date or date-time (ISO 8601)", field=path)
    if parsed.tzinfo is not None:
        raise InvalidInput("a local date-time must not carry an offset; the schedule's "
                           "time_zone applies", field=path)
    return parsed


def _instant(value: Any, path: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"expected an ISO 8601 instant with offset, got {value!r}",
                               field=path) from None
    if not isinstance(value, datetime):
        raise InvalidInput("expected an ISO 8601 instant with offset", field=path)
    return as_utc(value, path)


def _length(kind: str, value: Any, path: str) -> tuple[Unit, int]:
    if kind == "custom":
        match = _CUSTOM.match(value) if isinstance(value, str) else None
        if match is None:
            raise InvalidInput(f"custom length must look like \"12h\", \"3d\", \"2w\" or "
                               f"\"1mo\", got {value!r}", field=path)
        count = int(match[1])
        unit = _CUSTOM_UNITS[match[2][0].lower()]
    else:
        count, unit = value, _TYPES[kind]
        if isinstance(count, bool) or not isinstance(count, int):
            raise InvalidInput(f"length must be a whole number, got {count!r}", field=path)
    if count < 1:
        raise InvalidInput(f"length must be positive, got {count}", field=path)
    return unit, count


def parse_rotation(data: Any, path: str = "rotation") -> Rotation:
    data = _mapping(data, path, {"type", "length", "start", "handoff", "end", "participants"})
    kind = _required(data, "type", path)
    if not isinstance(kind, str) or kind.lower() not in (*_TYPES, "custom"):
        raise InvalidInput(f"unknown rotation type {kind!r}; expected one of "
                           f"{[*_TYPES, 'custom']}", field=_join(path, "type"))
    kind = kind.lower()
    custom = kind == "custom"
    raw_length = _required(data, "length", path) if custom else data.get("length", 1)
    unit, length = _length(kind, raw_length, _join(path, "length"))
    start = _local(_required(data, "start", path), _join(path, "start"))
    if data.get("handoff") is not None:
        handoff = _time(data["handoff"], _join(path, "handoff"))
        raw = data["start"]
        has_time = isinstance(raw, datetime) or (isinstance(raw, str) and len(raw.strip()) > 10)
        if has_time and start.time() != handoff:
            raise InvalidInput(f"handoff {handoff} differs from the start's time "
                               f"{start.time()}", field=_join(path, "handoff"))
        start = datetime.combine(start.date(), handoff)
    end = None
    if data.get("end") is not None:
        end = _local(data["end"], _join(path, "end"))
    people = _list(_required(data, "participants", path), _join(path, "participants"))
    if not people:
        raise InvalidInput("a rotation needs at least one participant",
                           field=_join(path, "participants"))
    users = tuple(_user(u, f"{_join(path, 'participants')}[{i}]") for i, u in enumerate(people))
    return _build(path, Rotation, participants=users, start=start, unit=unit, length=length,
                  end=end)


def _days(data: Mapping[str, Any], path: str) -> list[int]:
    if "day" in data and "days" in data:
        raise InvalidInput("give day or days, not both", field=_join(path, "days"))
    if "day" in data:
        raw, key = [data["day"]], "day"
    else:
        raw, key = _list(_required(data, "days", path), _join(path, "days")), "days"
        if not raw:
            raise InvalidInput("days must not be empty", field=_join(path, "days"))
    out = []
    for i, day in enumerate(raw):
        where = _join(path, key) if key == "day" else f"{_join(path, key)}[{i}]"
        if not isinstance(day, str) or day.strip().lower() not in _DAYS:
            raise InvalidInput(f"unknown weekday {day!r}; expected mon..sun", field=where)
        out.append(_DAYS[day.strip().lower()])
    return out


def parse_restrictions(data: Any, path: str = "restrictions") -> tuple[Window, ...]:
    windows: list[Window] = []
    for i, item in enumerate(_list(data, path)):
        where = f"{path}[{i}]"
        if item == "weekdays":
            windows.extend(weekdays_only())
            continue
        if item == "business_hours":
            windows.extend(business_hours())
            continue
        item = _mapping(item, where, {"day", "days", "start", "end"})
        start = _time(_required(item, "start", where), _join(where, "start"))
        end = _time(_required(item, "end", where), _join(where, "end"), allow_24=True)
        windows.extend(_build(where, Window, weekday=d, start=start, end=end)
                       for d in _days(item, where))
    return tuple(windows)


def _shift(data: Any, path: str) -> Shift:
    data = _mapping(data, path, {"user", "start", "end"})
    return _build(path, Shift, user=_user(_required(data, "user", path), _join(path, "user")),
                  start=_instant(_required(data, "start", path), _join(path, "start")),
                  end=_instant(_required(data, "end", path), _join(path, "end")))


def _override(data: Any, path: str) -> Override:
    data = _mapping(data, path, {"type", "user", "replaces", "start", "end"})
    kind = _required(data, "type", path)
    if not isinstance(kind, str) or kind not in {k.value for k in OverrideKind}:
        raise InvalidInput(f"unknown override type {kind!r}; expected add, remove or "
                           "replace", field=_join(path, "type"))
    replaces = data.get("replaces")
    return _build(path, Override, kind=OverrideKind(kind),
                  user=_user(_required(data, "user", path), _join(path, "user")),
                  start=_instant(_required(data, "start", path), _join(path, "start")),
                  end=_instant(_required(data, "end", path), _join(path, "end")),
                  replaces=None if replaces is None else _user(replaces,
                                                               _join(path, "replaces")))


def _temporary(data: Any, path: str) -> TemporarySchedule:
    data = _mapping(data, path, {"start", "end", "shifts"})
    shifts = _list(data.get("shifts", []), _join(path, "shifts"))
    return _build(path, TemporarySchedule,
                  start=_instant(_required(data, "start", path), _join(path, "start")),
                  end=_instant(_required(data, "end", path), _join(path, "end")),
                  shifts=tuple(_shift(s, f"{path}.shifts[{i}]") for i, s in enumerate(shifts)))


def _swap(data: Any, path: str) -> Swap:
    keys = {"id", "requester", "counterpart", "start", "end", "return_start", "return_end",
            "state"}
    data = _mapping(data, path, keys)
    state = data.get("state", SwapState.REQUESTED.value)
    if not isinstance(state, str) or state not in {s.value for s in SwapState}:
        raise InvalidInput(f"unknown swap state {state!r}", field=_join(path, "state"))
    optional = {k: _instant(data[k], _join(path, k)) for k in ("return_start", "return_end")
                if data.get(k) is not None}
    return _build(path, Swap, id=str(_required(data, "id", path)),
                  requester=_user(_required(data, "requester", path),
                                  _join(path, "requester")),
                  counterpart=_user(_required(data, "counterpart", path),
                                    _join(path, "counterpart")),
                  start=_instant(_required(data, "start", path), _join(path, "start")),
                  end=_instant(_required(data, "end", path), _join(path, "end")),
                  state=SwapState(state), **optional)


def parse_schedule(data: Any) -> Schedule:
    """Validate a schedule given as plain dicts and build the dataclasses."""
    data = _mapping(data, "", {"name", "description", "time_zone", "layers", "overrides",
                               "temporary", "swaps"})
    name = _required(data, "name", "")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name must be a non-empty string", field="name")
    zone = _zone(_required(data, "time_zone", ""), "time_zone")
    raw_layers = _list(_required(data, "layers", ""), "layers")
    if not raw_layers:
        raise InvalidInput("a schedule needs at least one layer", field="layers")
    layers = []
    for i, raw in enumerate(raw_layers):
        where = f"layers[{i}]"
        item = _mapping(raw, where, {"name", "rotation", "restrictions"})
        layer_name = item.get("name", f"Layer {i + 1}")
        if not isinstance(layer_name, str):
            raise InvalidInput("name must be a string", field=_join(where, "name"))
        rotation = parse_rotation(_required(item, "rotation", where), _join(where, "rotation"))
        restrictions = parse_restrictions(item.get("restrictions", []),
                                          _join(where, "restrictions"))
        layers.append(Layer(layer_name, rotation, restrictions))

    def each(key: str, parse: Callable[[Any, str], T]) -> tuple[T, ...]:
        items = _list(data.get(key) or [], key)
        return tuple(parse(item, f"{key}[{i}]") for i, item in enumerate(items))

    return Schedule(name.strip(), zone, tuple(layers), each("overrides", _override),
                    each("temporary", _temporary), each("swaps", _swap))

