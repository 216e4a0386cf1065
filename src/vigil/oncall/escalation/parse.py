"""Build an escalation ``Policy`` from plain dicts (loaded from YAML or JSON), or raise
``InvalidInput`` naming the offending field, e.g. ``steps[1].targets[0].type``.

Shape (unknown keys are rejected, so typos do not pass silently)::

    name: critical-firing
    conditions:                      # optional; an absent or empty list matches anything
      severities: [critical]         # low | info | warning | high | critical
      statuses: [firing]
    repeat: 1                        # 0-5 extra passes over the whole list
    ack_timeout_minutes: 30          # optional; or ack_timeout: "1h30m"
    steps:
      - delay: 0                     # step 0 may omit it (0); later steps must give it
        targets:
          - team: on-call            # shorthand {<type>: <id>}
      - delay_minutes: 5             # or delay: 5 (minutes) or delay: "5m" / "90s" / "1h"
        urgency: high                # high (default) | low
        multi_ack: false             # every person targeted must acknowledge
        active_between: {start: "09:00", end: "18:00", tz: Europe/Berlin,
                         days: [mon, tue, wed, thu, fri]}   # days optional (all)
        targets:
          - {type: team, id: senior-engineers}
          - {slack_channel: "#incidents"}
          - {round_robin: [alice, bob]}                    # or {type: round_robin,
          - {type: webhook, id: hook-1}                    #     id: dbas, users: [...]}

Target types: user, schedule, team, round_robin, slack_channel, webhook. Quote times:
YAML 1.1 reads an unquoted 18:00 as the number 1080.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import time, timedelta
from typing import Any, TypeVar

from vigil.errors import InvalidInput
from vigil.oncall.dicts import as_list as _list
from vigil.oncall.dicts import join as _join
from vigil.oncall.dicts import mapping as _mapping
from vigil.oncall.dicts import required as _required
from vigil.oncall.escalation.policy import (
    MAX_DELAY,
    ActiveWindow,
    Conditions,
    Policy,
    Severity,
    Step,
    Target,
    TargetKind,
    Urgency,
)

T = TypeVar("T")

_DURATION = re.compile(r"^(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?$", re.I)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_DAYS = {name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}
_KINDS = {k.value for k in TargetKind}


def _text(value: Any, path: str, what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"expected {what}, got {value!r}", field=path)
    return value.strip()


def _build(path: str, factory: Callable[..., T], **kwargs: Any) -> T:
    """Call a dataclass constructor, prefixing any field it names with ``path``."""
    try:
        return factory(**kwargs)
    except InvalidInput as exc:
        field = _join(path, exc.field) if exc.field else path or None
        raise InvalidInput(exc.message, field=field) from exc


def parse_duration(value: Any, path: str) -> timedelta:
    """A whole number of minutes, a ``timedelta``, or a string such as "5m", "90s",
    "1h30m" (a bare number string is minutes)."""
    if isinstance(value, timedelta):
        return value
    try:
        return _duration(value, path)
    except (OverflowError, ValueError):  # beyond timedelta, or a number of 4,300+ digits
        raise InvalidInput("the duration is too long (or not a number)", field=path) from None


def _duration(value: Any, path: str) -> timedelta:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InvalidInput(f"a duration must not be negative, got {value}", field=path)
        return timedelta(minutes=value)
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None or not any(match.groups()):
        raise InvalidInput(f"expected minutes (a whole number) or a duration such as \"5m\", "
                           f"\"90s\" or \"1h30m\", got {value!r}", field=path)
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _either(data: Mapping[str, Any], key: str, path: str, *,
            allow_zero: bool) -> timedelta | None:
    """``key`` (a duration) or ``key_minutes`` (whole minutes), not both; range-checked."""
    minutes_key = f"{key}_minutes"
    if data.get(key) is not None and data.get(minutes_key) is not None:
        raise InvalidInput(f"give {key} or {minutes_key}, not both", field=_join(path, key))
    if data.get(minutes_key) is not None:
        where, raw = _join(path, minutes_key), data[minutes_key]
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InvalidInput(f"{minutes_key} must be a whole number, got {raw!r}",
                               field=where)
    elif data.get(key) is not None:
        where, raw = _join(path, key), data[key]
    else:
        return None
    value = parse_duration(raw, where)
    if value > MAX_DELAY or (value == timedelta(0) and not allow_zero):
        low = "zero or more" if allow_zero else "positive"
        raise InvalidInput(f"{key} must be {low} and at most {MAX_DELAY}, got {value}",
                           field=where)
    return value


def _time(value: Any, path: str) -> time:
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        hint = " (quote it: YAML reads 18:00 as a number)" if isinstance(value, int) else ""
        raise InvalidInput(f"expected a time as \"HH:MM\", got {value!r}{hint}", field=path)
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise InvalidInput(f"time out of range: {value!r}", field=path)
    return time(hour, minute)


def _day(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and value.strip().lower()[:3] in _DAYS:
        return _DAYS[value.strip().lower()[:3]]
    raise InvalidInput(f"unknown weekday {value!r}; expected mon..sun or 0..6", field=path)


def _window(data: Any, path: str) -> ActiveWindow:
    data = _mapping(data, path, {"start", "end", "tz", "days"})
    start = _time(_required(data, "start", path), _join(path, "start"))
    end = _time(_required(data, "end", path), _join(path, "end"))
    tz = _text(_required(data, "tz", path), _join(path, "tz"), "an IANA time zone name")
    extra: dict[str, Any] = {}
    if data.get("days") is not None:
        days = _list(data["days"], _join(path, "days"))
        if not days:
            raise InvalidInput("days must not be empty", field=_join(path, "days"))
        extra["days"] = tuple(_day(d, f"{_join(path, 'days')}[{i}]") for i, d in enumerate(days))
    return _build(path, ActiveWindow, start=start, end=end, tz=tz, **extra)


def _users(value: Any, path: str) -> tuple[str, ...]:
    users = _list(value, path)
    if not users:
        raise InvalidInput("a round robin needs at least one user", field=path)
    return tuple(_text(u, f"{path}[{i}]", "a user id") for i, u in enumerate(users))


def parse_target(data: Any, path: str) -> Target:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"expected an object, got {type(data).__name__}", field=path)
    if "type" not in data and len(data) == 1:  # shorthand {team: on-call}
        kind, value = next(iter(data.items()))
        if kind not in _KINDS:
            raise InvalidInput(f"unknown target type {kind!r}; expected one of "
                               f"{sorted(_KINDS)}", field=_join(path, "type"))
        where = _join(path, str(kind))
        if kind == TargetKind.ROUND_ROBIN.value:
            return Target(TargetKind.ROUND_ROBIN, users=_users(value, where))
        return Target(TargetKind(kind), _text(value, where, f"a {kind} id"))
    data = _mapping(data, path, {"type", "id", "users"})
    kind = _required(data, "type", path)
    if not isinstance(kind, str) or kind not in _KINDS:
        raise InvalidInput(f"unknown target type {kind!r}; expected one of "
                           f"{sorted(_KINDS)}", field=_join(path, "type"))
    if kind == TargetKind.ROUND_ROBIN.value:
        name = data.get("id") or ""
        users = _users(_required(data, "users", path), _join(path, "users"))
        return _build(path, Target, kind=TargetKind.ROUND_ROBIN,
                      id=_text(name, _join(path, "id")) if name else "", users=users)
    if "users" in data:
        raise InvalidInput(f"users is only valid on a round_robin target, not {kind}",
                           field=_join(path, "users"))
    return Target(TargetKind(kind), _text(_required(data, "id", path), _join(path, "id"),
                                          f"a {kind} id"))


def parse_step(data: Any, path: str, *, first: bool = False) -> Step:
    data = _mapping(data, path, {"delay", "delay_minutes", "targets", "urgency",
                                 "active_between", "multi_ack"})
    delay = _either(data, "delay", path, allow_zero=True)
    if delay is None:
        if not first:
            raise InvalidInput("delay is required after the first step (delay or "
                               "delay_minutes)", field=_join(path, "delay"))
        delay = timedelta(0)
    raw_targets = _list(_required(data, "targets", path), _join(path, "targets"))
    if not raw_targets:
        raise InvalidInput("a step needs at least one target", field=_join(path, "targets"))
    targets = tuple(parse_target(t, f"{_join(path, 'targets')}[{i}]")
                    for i, t in enumerate(raw_targets))
    urgency = data.get("urgency", Urgency.HIGH.value)
    if urgency not in {u.value for u in Urgency}:
        raise InvalidInput(f"urgency must be high or low, got {urgency!r}",
                           field=_join(path, "urgency"))
    multi_ack = data.get("multi_ack", False)
    if not isinstance(multi_ack, bool):
        raise InvalidInput(f"multi_ack must be true or false, got {multi_ack!r}",
                           field=_join(path, "multi_ack"))
    window = None
    if data.get("active_between") is not None:
        window = _window(data["active_between"], _join(path, "active_between"))
    return _build(path, Step, delay=delay, targets=targets, urgency=Urgency(urgency),
                  active_between=window, multi_ack=multi_ack)


def parse_conditions(data: Any, path: str = "conditions") -> Conditions:
    data = _mapping(data, path, {"severities", "statuses"})
    severities = set()
    for i, raw in enumerate(_list(data.get("severities") or [], _join(path, "severities"))):
        value = raw.strip().lower() if isinstance(raw, str) else raw
        if value not in {s.value for s in Severity}:
            raise InvalidInput(f"unknown severity {raw!r}; expected one of "
                               f"{[s.value for s in Severity]}",
                               field=f"{_join(path, 'severities')}[{i}]")
        severities.add(Severity(value))
    statuses = {_text(s, f"{_join(path, 'statuses')}[{i}]", "a status")
                for i, s in enumerate(_list(data.get("statuses") or [], _join(path, "statuses")))}
    return Conditions(frozenset(severities), frozenset(statuses))


def parse_policy(data: Any) -> Policy:
    """Validate an escalation policy given as plain dicts and build the dataclasses."""
    data = _mapping(data, "", {"name", "conditions", "repeat", "ack_timeout",
                               "ack_timeout_minutes", "steps"})
    name = _text(_required(data, "name", ""), "name")
    raw_steps = _list(_required(data, "steps", ""), "steps")
    if not raw_steps:
        raise InvalidInput("a policy needs at least one step", field="steps")
    steps = tuple(parse_step(s, f"steps[{i}]", first=i == 0) for i, s in enumerate(raw_steps))
    conditions = None
    if data.get("conditions") is not None:
        conditions = parse_conditions(data["conditions"])
    return _build("", Policy, name=name, steps=steps, repeat=data.get("repeat", 0),
                  ack_timeout=_either(data, "ack_timeout", "", allow_zero=False),
                  conditions=conditions)
