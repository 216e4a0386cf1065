"""Configuration changes are logged without any service saying so: a session listener
turns every inserted, updated and deleted row of a configuration model into an audit
entry, written in the same transaction as the change (so never one without the other).

Who did it comes from a context variable: the auth dependency sets it for each request
(``set_actor``; FastAPI runs sync endpoints and ``run_in_threadpool`` work in a copy of
the request's context, so it follows the request into the worker thread), the CLI sets
``cli`` and configuration files ``system:config-file``. Anything else is ``system``.

Old values come from SQLAlchemy's attribute history (no query per row); one executemany
per flush writes the entries. Operational data (alerts, incidents, outbox, deliveries,
escalations) is not configuration and has its own timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import InstanceState, Mapper, ORMExecuteState, Session, UOWTransaction
from starlette.requests import Request

from vigil.audit.masking import mask_values
from vigil.clock import Clock, SystemClock

SYSTEM = "system"
CLI = "cli"
CONFIG_FILE = "system:config-file"

#: Columns that change by themselves or say nothing the entry's own time does not: a row
#: whose only change is one of these is no configuration change.
IGNORED = frozenset({"updated_at", "last_used_at", "last_received_at", "last_seen_at"})


@dataclass(frozen=True, slots=True)
class Acting:
    actor: str
    address: str | None = None
    clock: Clock | None = None


class Fixed:
    """A clock that stays at ``when`` (the ``now`` a caller was given)."""

    def __init__(self, when: datetime) -> None:
        self.when = when

    def now(self) -> datetime:
        return self.when


_ACTING: ContextVar[Acting | None] = ContextVar("vigil_audit_acting", default=None)
_SYSTEM_CLOCK = SystemClock()


def set_actor(actor: str, *, address: str | None = None,
              clock: Clock | None = None) -> Token[Acting | None]:
    """From now on in this context (a request, a CLI run), changes are ``actor``'s."""
    return _ACTING.set(Acting(actor, address, clock))


def reset_actor(token: Token[Acting | None]) -> None:
    _ACTING.reset(token)


@contextmanager
def acting_as(actor: str, *, address: str | None = None,
              clock: Clock | None = None) -> Iterator[None]:
    token = set_actor(actor, address=address, clock=clock)
    try:
        yield
    finally:
        _ACTING.reset(token)


def current() -> Acting:
    return _ACTING.get() or Acting(SYSTEM)


#: The rows the audit log follows, and the target type their entries name. Filled by the
#: composition roots (``vigil.audit_targets``): this package knows no domain.
AUDITED: dict[type[Any], str] = {}


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _columns(mapper: Mapper[Any]) -> list[str]:
    return [a.key for a in mapper.column_attrs if a.key not in IGNORED]


def _loaded(state: InstanceState[Any], keys: Iterable[str]) -> dict[str, Any]:
    """The values of ``keys`` that are loaded (never a lazy load: no query)."""
    data = state.dict
    return {k: _plain(data[k]) for k in keys if k in data}


def _target(kind: str, mapper: Mapper[Any], obj: Any) -> str:
    if kind == "user":  # people are named by username everywhere (sign-ins too)
        return f"user:{obj.username}"
    ident = mapper.primary_key_from_instance(obj)
    return f"{kind}:{','.join(str(i) for i in ident)}"


def _entry(acting: Acting, now: datetime, obj: Any, kind: str, action: str,
           before: dict[str, Any] | None, after: dict[str, Any] | None,
           mapper: Mapper[Any]) -> dict[str, Any]:
    return {"tenant_id": getattr(obj, "tenant_id", None), "occurred_at": now,
            "actor": acting.actor[:200], "action": action,
            "target": _target(kind, mapper, obj)[:400], "target_type": kind,
            "address": acting.address[:64] if acting.address else None,
            "before": mask_values(kind, before), "after": mask_values(kind, after)}


def _changes(session: Session) -> list[dict[str, Any]]:
    kinds = AUDITED
    acting = current()
    now: datetime | None = None
    rows: list[dict[str, Any]] = []

    def clock_now() -> datetime:
        nonlocal now
        if now is None:
            now = (acting.clock or _SYSTEM_CLOCK).now()
        return now

    for obj in session.new:
        kind = kinds.get(type(obj))
        if kind is None:
            continue
        state = inspect(obj)
        mapper = state.mapper
        rows.append(_entry(acting, clock_now(), obj, kind, "create", None,
                           _loaded(state, _columns(mapper)), mapper))
    for obj in session.dirty:
        kind = kinds.get(type(obj))
        if kind is None:
            continue
        state = inspect(obj)
        mapper = state.mapper
        old: dict[str, Any] = {}
        for key in list(state.committed_state):
            if key in IGNORED or key not in mapper.column_attrs:
                continue
            history = state.attrs[key].history
            if history.has_changes():
                old[key] = _plain(history.deleted[0]) if history.deleted else None
        if not old:
            continue
        after = _loaded(state, _columns(mapper))
        before = {**after, **old}
        rows.append(_entry(acting, clock_now(), obj, kind, "update", before, after, mapper))
    for obj in session.deleted:
        kind = kinds.get(type(obj))
        if kind is None:
            continue
        state = inspect(obj)
        mapper = state.mapper
        rows.append(_entry(acting, clock_now(), obj, kind, "delete",
                           _loaded(state, _columns(mapper)), None, mapper))
    return rows


def _write(session: Session, rows: list[dict[str, Any]]) -> None:
    from vigil.audit.models import AuditEntry

    rows = [r for r in rows if r["tenant_id"] is not None]
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    # Still the flush's view here: new/dirty/deleted and the attribute history are as they
    # were before it; ids of new rows are known.
    if not (session.new or session.dirty or session.deleted):
        return
    _write(session, _changes(session))


def _bulk_delete(orm: ORMExecuteState) -> None:
    """``session.execute(delete(Model).where(...))`` of a configuration model: the rows it
    is about to delete are read first (such deletes are rare: a user's rules with them)."""
    if not orm.is_delete:
        return
    mapper = orm.bind_mapper
    kind = AUDITED.get(mapper.class_) if mapper is not None else None
    if kind is None or mapper is None:
        return
    where = getattr(orm.statement, "whereclause", None)
    stmt = select(mapper.class_)
    if where is not None:
        stmt = stmt.where(where)
    acting = current()
    now = (acting.clock or _SYSTEM_CLOCK).now()
    rows = [_entry(acting, now, obj, kind, "delete", _loaded(inspect(obj), _columns(mapper)),
                   None, mapper)
            for obj in orm.session.scalars(stmt)]
    _write(orm.session, rows)


def install(targets: Mapping[type[Any], str]) -> None:
    """Log changes to the rows of ``targets`` (model -> target type) made through any ORM
    session, with the sessions' commits. Called by the composition roots (the app, the
    CLI) through ``vigil.audit_targets``."""
    AUDITED.update(targets)
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _bulk_delete)


def set_request_actor(actor: str, request: Request, clock: Clock) -> None:
    """The auth dependency's call: this request's changes are ``actor``'s, from the
    client's address, at ``clock``'s time."""
    set_actor(actor, address=request.client.host if request.client else None, clock=clock)
