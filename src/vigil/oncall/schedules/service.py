"""On-call schedules in the database.

Each row keeps the schedule's dict form (the shape ``oncall.validation.parse_schedule``
reads: layers, overrides, temporary schedules and swaps), validated with the users of the
tenant on every write; every query parses it and asks the pure core (``oncall.shifts``).
Overrides are addressed by their index in ``overrides``, swaps by their ``id``.
Services take a session and never commit; the API owns the unit of work.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.auth.models import User
from vigil.errors import Conflict, Forbidden, InvalidInput, NotFound
from vigil.oncall.models import ScheduleRow
from vigil.oncall.schedules import shifts as q
from vigil.oncall.schedules.definition import (
    Override,
    OverrideKind,
    Schedule,
    Shift,
    Swap,
    SwapState,
    accept_swap,
    as_utc,
    cancel_swap,
    decline_swap,
)
from vigil.oncall.schedules.ical import export_ics, import_ics
from vigil.oncall.schedules.overrides import Shadow, shadows
from vigil.oncall.schedules.parse import parse_schedule

#: Days ahead that an iCalendar feed covers; it also repeats the shifts still running today.
FEED_DAYS = 90
_FEED_LOOKBACK = timedelta(days=31)
_TICK = timedelta(microseconds=1)
_LISTS = ("overrides", "temporary", "swaps")
_SWAP_FIELDS = ("requester", "counterpart", "start", "end", "return_start", "return_end")
SWAP_ACTIONS: dict[str, Callable[[Swap, str], Swap]] = {
    "accept": accept_swap, "decline": decline_swap, "cancel": cancel_swap}

#: (schedule name, when, on call before, on call after)
HandoffRow = tuple[str, datetime, tuple[str, ...], tuple[str, ...]]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """``value`` as JSON data: the dates and times YAML makes become ISO 8601 text."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def parse_instant(value: str | None, *, field: str, default: datetime) -> datetime:
    """An ISO 8601 instant with an offset (``Z`` or ``%2B01:00`` in a URL), or ``default``."""
    if value is None or not value.strip():
        return as_utc(default, field)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{field}: expected an ISO 8601 instant such as "
                           f"2026-03-01T09:00:00Z, got {value!r}", field=field) from None
    return as_utc(parsed, field)


def _relative(exc: InvalidInput, prefix: str) -> InvalidInput:
    """The error with ``prefix`` (e.g. ``overrides[3]``) cut from its field."""
    field = exc.field or ""
    if prefix and (field == prefix or field.startswith(prefix + ".")):
        return InvalidInput(exc.message, field=field[len(prefix) + 1:] or None)
    return exc


def _user_fields(schedule: Schedule) -> Iterator[tuple[str, str]]:
    for i, layer in enumerate(schedule.layers):
        for j, user in enumerate(layer.rotation.participants):
            yield f"layers[{i}].rotation.participants[{j}]", user
    for i, o in enumerate(schedule.overrides):
        yield f"overrides[{i}].user", o.user
        if o.replaces is not None:
            yield f"overrides[{i}].replaces", o.replaces
    for i, temp in enumerate(schedule.temporary):
        for j, shift in enumerate(temp.shifts):
            yield f"temporary[{i}].shifts[{j}].user", shift.user
    for i, swap in enumerate(schedule.swaps):
        yield f"swaps[{i}].requester", swap.requester
        yield f"swaps[{i}].counterpart", swap.counterpart


def usernames(session: Session, *, tenant_id: int) -> set[str]:
    return set(session.scalars(select(User.username).where(User.tenant_id == tenant_id)))


def _check_users(session: Session, tenant_id: int, schedule: Schedule, prefix: str = "") -> None:
    """Everyone the schedule names (under ``prefix`` only, if given) must be a user."""
    known = usernames(session, tenant_id=tenant_id)
    for field, user in _user_fields(schedule):
        if field.startswith(prefix) and user not in known:
            raise InvalidInput(f"no user named {user!r}", field=field)


def check_schedule_users(session: Session, *, tenant_id: int, schedule: Schedule) -> None:
    """InvalidInput naming the first field of ``schedule`` that names no user."""
    _check_users(session, tenant_id, schedule)


def describe_override(override: Override, index: int) -> str:
    """``overrides[2] (replace alice by dave, 2026-03-05T08:00:00Z to ...)``."""
    if override.kind is OverrideKind.REPLACE:
        what = (f"replace {override.replaces} by {override.user}" if override.replaces
                else f"replace everyone by {override.user}")
    else:
        what = f"{override.kind.value} {override.user}"
    return f"overrides[{index}] ({what}, {iso(override.start)} to {iso(override.end)})"


def _shadow_text(schedule: Schedule, shadow: Shadow, new: int | None) -> str:
    """What ``shadow`` means, naming both overrides (``new``: the one being added, called
    "this override")."""
    def name(k: int) -> str:
        return "this override" if k == new else describe_override(schedule.overrides[k], k)

    hidden, by = name(shadow.hidden), name(shadow.by)
    if shadow.duplicate:
        return f"{by} duplicates {hidden}"
    later = shadow.by > shadow.hidden
    order, effect = ("later", "decides alone") if later else ("first",
                                                               "leaves it nothing to change")
    if shadow.full:
        return (f"{hidden} changes nothing at all: {by} covers its whole interval and, "
                f"coming {order}, {effect}")
    return (f"{hidden} changes nothing from {iso(shadow.start)} to {iso(shadow.end)}: "
            f"{by}, coming {order}, {effect} there")


def _other(shadow: Shadow, new: int | None) -> int:
    """The override a clash names in ``field``: not the one being added; in a definition,
    the earlier one."""
    if new is not None:
        return shadow.by if shadow.hidden == new else shadow.hidden
    return min(shadow.hidden, shadow.by)


def override_warnings(schedule: Schedule, new: int | None = None) -> list[str]:
    """Partial shadows among the overrides (only those with ``new``, if given), as text.
    Raises Conflict (409) for a duplicate or full shadow, naming the other override in its
    message and ``field``: one of the two would change nothing at all."""
    warnings = []
    for shadow in shadows(schedule.overrides, involving=new):
        text = _shadow_text(schedule, shadow, new)
        if not shadow.full:
            warnings.append(text)
            continue
        other = _other(shadow, new)
        hint = (f"; delete overrides[{shadow.hidden}] first if this override is meant to "
                "take its place" if new is not None and shadow.hidden != new
                and not shadow.duplicate else "")
        o = schedule.overrides[other]
        raise Conflict(text + hint, field=f"overrides[{other}]", details=[{
            "field": f"overrides[{other}]", "index": other, "type": o.kind.value,
            "user": o.user, "replaces": o.replaces, "start": iso(o.start),
            "end": iso(o.end)}])
    return warnings


def stored_warnings(schedule: Schedule) -> list[str]:
    """Every shadow among stored overrides, as text (full ones included: they may predate
    the check)."""
    return [_shadow_text(schedule, shadow, None) for shadow in shadows(schedule.overrides)]


def validate(session: Session, *, tenant_id: int, data: Any,
             check_users: bool = True) -> tuple[dict[str, Any], Schedule]:
    """The definition to store and the schedule it makes, or InvalidInput naming the field
    (Conflict for overrides that duplicate or fully shadow one another)."""
    definition = plain(data)
    if not isinstance(definition, dict):
        raise InvalidInput("expected a JSON object", field="body")
    schedule = parse_schedule(definition)
    if len(schedule.name) > 200:
        raise InvalidInput("name must be at most 200 characters", field="name")
    definition["name"] = schedule.name
    if check_users:
        _check_users(session, tenant_id, schedule)
    override_warnings(schedule)
    return definition, schedule


def _by_name(session: Session, tenant_id: int, name: str) -> ScheduleRow | None:
    return session.scalars(select(ScheduleRow).where(
        ScheduleRow.tenant_id == tenant_id, ScheduleRow.name == name)).first()


def by_name(session: Session, *, tenant_id: int, name: str) -> ScheduleRow | None:
    return _by_name(session, tenant_id, name)


def get_schedule(session: Session, *, tenant_id: int, schedule_id: int,
                 lock: bool = False) -> ScheduleRow:
    stmt = select(ScheduleRow).where(ScheduleRow.id == schedule_id)
    row = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"no schedule {schedule_id}", field="id")
    return row


def list_schedules(session: Session, *, tenant_id: int) -> list[ScheduleRow]:
    return list(session.scalars(select(ScheduleRow).where(ScheduleRow.tenant_id == tenant_id)
                                .order_by(ScheduleRow.name, ScheduleRow.id)))


def load(row: ScheduleRow) -> Schedule:
    return parse_schedule(row.definition)


def create_schedule(session: Session, *, tenant_id: int, data: Any, now: datetime,
                    check_users: bool = True) -> ScheduleRow:
    definition, schedule = validate(session, tenant_id=tenant_id, data=data,
                                    check_users=check_users)
    conflict = Conflict(f"a schedule named {schedule.name!r} exists", field="name")
    if _by_name(session, tenant_id, schedule.name) is not None:
        raise conflict
    row = ScheduleRow(tenant_id=tenant_id, name=schedule.name, definition=definition,
                      ical_token=secrets.token_urlsafe(24), created_at=now, updated_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise conflict from None
    return row


def update_schedule(session: Session, *, tenant_id: int, schedule_id: int, data: Any,
                    now: datetime) -> ScheduleRow:
    """Replace the whole definition (overrides and swaps are what the body says)."""
    row = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id, lock=True)
    definition, schedule = validate(session, tenant_id=tenant_id, data=data)
    other = _by_name(session, tenant_id, schedule.name)
    if other is not None and other.id != row.id:
        raise Conflict(f"a schedule named {schedule.name!r} exists", field="name")
    row.name, row.definition, row.updated_at = schedule.name, definition, now
    return row


def delete_schedule(session: Session, *, tenant_id: int, schedule_id: int) -> None:
    session.delete(get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id))


def apply_schedule(session: Session, *, tenant_id: int, data: Any, now: datetime) -> str:
    """Create or update the schedule named in ``data``: "created", "updated" or "unchanged".

    Overrides, temporary schedules and swaps that ``data`` leaves out are kept as stored
    (they are usually made through the API); ``overrides: []`` clears them. Users are not
    checked here: a configuration folder may create them after its schedules, so
    ``vigil apply`` checks them when it commits (``schedule_kinds``)."""
    definition, schedule = validate(session, tenant_id=tenant_id, data=data, check_users=False)
    existing = _by_name(session, tenant_id, schedule.name)
    if existing is None:
        create_schedule(session, tenant_id=tenant_id, data=definition, now=now,
                        check_users=False)
        return "created"
    for key in _LISTS:
        if key not in definition and key in existing.definition:
            definition[key] = existing.definition[key]
    parse_schedule(definition)
    if definition == existing.definition:
        return "unchanged"
    existing.definition, existing.updated_at = definition, now
    return "updated"


def handoff_dict(handoff: q.Handoff | None) -> dict[str, Any] | None:
    if handoff is None:
        return None
    return {"at": iso(handoff.at), "before": list(handoff.before),
            "after": list(handoff.after)}


def read(row: ScheduleRow, *, now: datetime, base_url: str = "") -> dict[str, Any]:
    schedule = load(row)
    return {"id": row.id, **row.definition, "name": row.name,
            "ical_url": f"{base_url}/api/v1/schedules/{row.id}/shifts.ics?token="
                        f"{row.ical_token}",
            "on_call_now": q.on_call_at(schedule, now),
            "next_handoff": handoff_dict(q.next_handoff(schedule, now)),
            "warnings": stored_warnings(schedule),
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def _checked(session: Session, tenant_id: int, definition: dict[str, Any],
             prefix: str) -> Schedule:
    """The schedule ``definition`` makes, its users checked; errors under ``prefix`` (the
    item being added) name the field relative to it."""
    try:
        schedule = parse_schedule(definition)
        _check_users(session, tenant_id, schedule, prefix + ".")
    except InvalidInput as exc:
        raise _relative(exc, prefix) from None
    return schedule


def _save(session: Session, row: ScheduleRow, tenant_id: int, definition: dict[str, Any],
          now: datetime, prefix: str) -> None:
    """Store ``definition`` after checking it (see ``_checked``)."""
    _checked(session, tenant_id, definition, prefix)
    row.definition, row.updated_at = definition, now


def _items(row: ScheduleRow, key: str) -> list[Any]:
    return list(row.definition.get(key) or [])


def add_override(session: Session, *, tenant_id: int, schedule_id: int, data: Any,
                 now: datetime) -> dict[str, Any]:
    """Append ``{type, user, replaces?, start, end}``; returns it with its ``index`` and
    ``warnings`` (the overrides it partly shadows or is shadowed by). One that duplicates
    another, or shadows it or is shadowed by it over a whole interval, is a Conflict naming
    the other (``shifts.shadows`` says what shadowing is)."""
    row = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id, lock=True)
    item = plain(data)
    if not isinstance(item, dict):
        raise InvalidInput("expected a JSON object", field="body")
    overrides = [*_items(row, "overrides"), item]
    index = len(overrides) - 1
    definition = {**row.definition, "overrides": overrides}
    schedule = _checked(session, tenant_id, definition, f"overrides[{index}]")
    warnings = override_warnings(schedule, new=index)
    row.definition, row.updated_at = definition, now
    return {"index": index, **item, "warnings": warnings}


def remove_override(session: Session, *, tenant_id: int, schedule_id: int, index: int,
                    now: datetime) -> None:
    row = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id, lock=True)
    overrides = _items(row, "overrides")
    if not 0 <= index < len(overrides):
        raise NotFound(f"schedule {schedule_id} has no override {index}", field="index")
    del overrides[index]
    row.definition, row.updated_at = {**row.definition, "overrides": overrides}, now


def request_swap(session: Session, *, tenant_id: int, schedule_id: int, data: Any,
                 now: datetime) -> dict[str, Any]:
    """A new swap in state "requested": ``counterpart`` would cover ``requester`` for
    ``[start, end)`` (and, for a trade, the other way round for the return range)."""
    row = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id, lock=True)
    body = plain(data)
    if not isinstance(body, dict):
        raise InvalidInput("expected a JSON object", field="body")
    for key in body:
        if key not in _SWAP_FIELDS:
            raise InvalidInput(f"unknown field {key!r}; expected one of {list(_SWAP_FIELDS)}",
                               field=key)
    swaps = _items(row, "swaps")
    taken = {str(s.get("id")) for s in swaps if isinstance(s, dict)}
    swap_id = f"swap-{secrets.token_hex(4)}"
    while swap_id in taken:
        swap_id = f"swap-{secrets.token_hex(4)}"
    item = {"id": swap_id, **body, "state": SwapState.REQUESTED.value}
    _save(session, row, tenant_id, {**row.definition, "swaps": [*swaps, item]}, now,
          f"swaps[{len(swaps)}]")
    return item


def act_on_swap(session: Session, *, tenant_id: int, schedule_id: int, swap_id: str,
                action: str, by: Any, now: datetime) -> dict[str, Any]:
    """accept or decline (by the counterpart) or cancel (by the requester) a requested
    swap: 409 if it is no longer requested, 403 if ``by`` may not."""
    transition = SWAP_ACTIONS.get(action)
    if transition is None:
        raise NotFound(f"no swap action {action!r}; one of {sorted(SWAP_ACTIONS)}",
                       field="action")
    if not isinstance(by, str) or not by.strip():
        raise InvalidInput("by: the username of who acts is required", field="by")
    row = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id, lock=True)
    swaps = _items(row, "swaps")
    index = next((i for i, s in enumerate(swaps) if str(s.get("id")) == swap_id), None)
    if index is None:
        raise NotFound(f"schedule {schedule_id} has no swap {swap_id!r}", field="swap_id")
    try:
        done = transition(load(row).swaps[index], by.strip())
    except Forbidden as exc:
        raise Forbidden(exc.message, field="by") from None
    swaps[index] = {**swaps[index], "state": done.state.value}
    row.definition, row.updated_at = {**row.definition, "swaps": swaps}, now
    result: dict[str, Any] = swaps[index]
    return result


def import_temporary(session: Session, *, tenant_id: int, schedule_id: int,
                     ics: bytes | str, now: datetime) -> dict[str, Any]:
    """Add the fixed shifts of an iCalendar file as a temporary schedule covering their
    span (floating times are read in the schedule's zone); returns it with its index."""
    row = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id, lock=True)
    found = import_ics(ics, zone=load(row).zone)
    if not found:
        raise InvalidInput("the calendar has no events", field="ics")
    item = {"start": iso(min(s.start for s in found)), "end": iso(max(s.end for s in found)),
            "shifts": [{"user": s.user, "start": iso(s.start), "end": iso(s.end)}
                       for s in found]}
    temporary = [*_items(row, "temporary"), item]
    try:
        _save(session, row, tenant_id, {**row.definition, "temporary": temporary}, now,
              f"temporary[{len(temporary) - 1}]")
    except InvalidInput as exc:
        raise InvalidInput(f"{exc.field}: {exc.message}", field="ics") from None
    return {"index": len(temporary) - 1, **item}


def on_call(session: Session, *, tenant_id: int, at: datetime) -> list[dict[str, Any]]:
    """Every schedule of the tenant: who is on call at ``at`` and the next handoff."""
    out = []
    for row in list_schedules(session, tenant_id=tenant_id):
        schedule = load(row)
        out.append({"id": row.id, "name": row.name, "on_call": q.on_call_at(schedule, at),
                    "next_handoff": handoff_dict(q.next_handoff(schedule, at))})
    return out


def handoffs_between(session: Session, tenant_id: int, start: datetime,
                     end: datetime) -> list[HandoffRow]:
    """Every change of who is on call in ``[start, end)`` across the tenant's schedules,
    as (schedule name, at, before, after), by time then name. Consecutive windows see
    each handoff once. Nothing is sent or stored."""
    a, b = as_utc(start, "start"), as_utc(end, "end")
    if b <= a:
        return []
    out: list[HandoffRow] = []
    for row in list_schedules(session, tenant_id=tenant_id):
        segments = q.coverage(load(row), a - _TICK, b)
        out.extend((row.name, seg.start, prev.users, seg.users)
                   for prev, seg in pairwise(segments))
    out.sort(key=lambda h: (h[1], h[0]))
    return out


def _feed_shifts(schedule: Schedule, now: datetime) -> list[Shift]:
    """Shifts still running today or starting in the next ``FEED_DAYS`` days, not clipped
    at ``now`` (so a shift keeps its start, hence its UID, from one fetch to the next)."""
    day = as_utc(now, "now").replace(hour=0, minute=0, second=0, microsecond=0)
    return [s for s in q.final_shifts(schedule, day - _FEED_LOOKBACK,
                                      day + timedelta(days=FEED_DAYS + 1)) if s.end > day]


def _token_ok(expected: str, given: str) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), given.encode())


def schedule_feed(session: Session, *, schedule_id: int, token: str, now: datetime) -> bytes:
    """The schedule's final shifts as iCalendar; 404 unless ``token`` is its ical_token."""
    row = session.get(ScheduleRow, schedule_id)
    if row is None or not _token_ok(row.ical_token, token):
        raise NotFound("no such calendar", field="token")
    return export_ics(row.name, _feed_shifts(load(row), now))


def user_feed(session: Session, *, user_id: int, token: str, now: datetime) -> bytes:
    """The user's own on-call time across every schedule of their tenant (overlapping
    shifts of several schedules are one event); 404 unless ``token`` is theirs."""
    user = session.get(User, user_id)
    if user is None or not _token_ok(user.ical_token, token):
        raise NotFound("no such calendar", field="token")
    spans: list[tuple[datetime, datetime]] = []
    for row in list_schedules(session, tenant_id=user.tenant_id):
        spans.extend((s.start, s.end) for s in _feed_shifts(load(row), now)
                     if s.user == user.username)
    merged: list[tuple[datetime, datetime]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return export_ics(f"{user.username} on call",
                      [Shift(user.username, s, e) for s, e in merged])
