"""One way to consume the outbox: a cursor, a batch, and per-event isolation.

A consumer reads the events of its topics past its cursor (``outbox_cursors``) in id order,
validates each payload against its topic's contract (``outbox.contracts``) and hands it to
its handler, all in one transaction that also moves the cursor. An event it cannot handle
never stops the others:

* the batch is rolled back and that event is written to ``outbox_failures`` (attempts,
  error, next attempt with exponential backoff), and the batch runs again without it; an
  error the batch cannot pin on one event (at flush or commit) makes the batch run event
  by event, one transaction each, which pins it;
* a failed event is retried on its own when its next attempt is due; after
  ``max_attempts`` it is *parked*: kept with its error, told to the consumer's ``on_park``
  (the consumers of incident events note it on the incident's timeline) and returned to
  the caller (``Outcome.parked``), which raises a ``VigilConsumerFailed`` self-alert.
  Parked events are listed and replayed through ``GET/POST /api/v1/outbox/failures`` and
  ``vigil outbox``.

Handlers are written for batches: ``begin`` loads what all the events need, ``handle``
decides one event (it may raise), ``end`` writes what the batch decided. On PostgreSQL the
cursor row is locked for the transaction, so nodes take turns.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    func,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vigil.db import Database
from vigil.outbox import contracts
from vigil.outbox.models import OutboxCursor, OutboxEvent, OutboxFailure

log = logging.getLogger(__name__)

S = TypeVar("S")


class Handler(Protocol[S]):
    """What a consumer does with a batch of events (all in one transaction)."""

    def begin(self, session: Session, events: Sequence[OutboxEvent], now: datetime) -> S:
        """Load what the batch's events need; returns the batch's working state."""
        ...

    def handle(self, session: Session, state: S, event: OutboxEvent, payload: Any,
               now: datetime) -> None:
        """Decide one event (``payload`` has passed its topic's contract). May raise."""
        ...

    def end(self, session: Session, state: S, now: datetime) -> None:
        """Write what the batch decided."""
        ...


@dataclass(frozen=True)
class Retry:
    """How often and how soon a failed event is tried again before it is parked."""

    max_attempts: int = 5
    backoff: timedelta = timedelta(seconds=5)  # 5, 10, 20, 40 s: parked ~75 s after

    def delay(self, attempts: int) -> timedelta:
        return self.backoff * float(2 ** max(attempts - 1, 0))


@dataclass(frozen=True)
class Consumer(Generic[S]):
    name: str
    topics: tuple[str, ...]
    handler: Handler[S]
    limit: int = 2000
    #: Told of an event set aside, in the transaction that parks it (e.g. to note it on
    #: the incident's timeline: ``incidents.service.note_parked``).
    on_park: Callable[[Session, Parked, datetime], None] | None = None


@dataclass(frozen=True)
class Parked:
    """An event a consumer gave up on (for the self-alert)."""

    consumer: str
    event_id: int
    tenant_id: int
    topic: str
    error: str
    incident_id: int | None
    attempts: int = 0


@dataclass
class Outcome:
    handled: int = 0
    failed: int = 0
    parked: list[Parked] = field(default_factory=list)


class _EventFailed(Exception):
    def __init__(self, event: OutboxEvent, error: BaseException) -> None:
        super().__init__(str(error))
        self.event_id = event.id
        self.error = error


def _upsert_cursor(session: Session, name: str) -> OutboxCursor:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(OutboxCursor).values(name=name, last_id=0)
                    .on_conflict_do_nothing())  # nodes racing to make it: one wins
    cursor = session.get(OutboxCursor, name, with_for_update=True)
    assert cursor is not None
    return cursor


def _failed_ids(name: str) -> Any:
    return select(OutboxFailure.event_id).where(OutboxFailure.consumer == name)


#: The advisory lock every outbox writer holds shared on PostgreSQL (migration 0016).
WRITER_LOCK = (7400, 1)


def _settled(session: Session) -> int | None:
    """On PostgreSQL, the highest outbox id below which no open transaction can still
    commit an event (None on SQLite, whose writers take turns): waits for the writers
    under way, then lets the next ones go at once."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    params = {"a": WRITER_LOCK[0], "b": WRITER_LOCK[1]}
    session.execute(text("SELECT pg_advisory_lock(:a, :b)"), params)
    try:
        return int(session.scalar(select(func.max(OutboxEvent.id))) or 0)
    finally:
        session.execute(text("SELECT pg_advisory_unlock(:a, :b)"), params)


def _new_events(session: Session, c: Consumer[Any], after: int
                ) -> tuple[list[OutboxEvent], int]:
    """The events of the consumer's topics past ``after`` to handle now, and the id the
    cursor may move to: past them and past those that failed (each retried on its own
    schedule from ``outbox_failures``, not with the batch)."""
    settled = _settled(session)
    events = list(session.scalars(select(OutboxEvent).where(
        OutboxEvent.id > after, OutboxEvent.topic.in_(c.topics),
        OutboxEvent.id <= settled if settled is not None else true())
        .order_by(OutboxEvent.id).limit(c.limit)))
    if not events:
        return [], after
    failed = set(session.scalars(_failed_ids(c.name).where(
        OutboxFailure.event_id > after, OutboxFailure.event_id <= events[-1].id)))
    return [e for e in events if e.id not in failed], events[-1].id


def _due_retries(session: Session, name: str, now: datetime) -> list[OutboxEvent]:
    return list(session.scalars(select(OutboxEvent).join(
        OutboxFailure, and_(OutboxFailure.event_id == OutboxEvent.id,
                            OutboxFailure.consumer == name)).where(
        OutboxFailure.parked_at.is_(None), OutboxFailure.next_attempt_at <= now)
        .order_by(OutboxEvent.id).limit(100)))


def _process(session: Session, c: Consumer[Any], events: Sequence[OutboxEvent],
             now: datetime) -> None:
    state = c.handler.begin(session, events, now)
    for ev in events:
        try:
            payload = contracts.validate(ev.topic, ev.payload)
            c.handler.handle(session, state, ev, payload, now)
        except Exception as exc:
            raise _EventFailed(ev, exc) from exc
    c.handler.end(session, state, now)
    session.flush()


def _attempt(db: Database, c: Consumer[Any], now: datetime, only: OutboxEvent | None
             ) -> tuple[int, _EventFailed | None]:
    """One transaction: the new events past the cursor and the due retries (or ``only``
    that event). Returns how many were handled, or the failure that rolled it back."""
    try:
        with db.write() as s:
            cursor = _upsert_cursor(s, c.name)
            if only is not None:
                events = [e for e in (s.get(OutboxEvent, only.id),) if e is not None]
                retried = [e for e in events if e.id <= cursor.last_id]
                seen = max([cursor.last_id, *(e.id for e in events)])
            else:
                fresh, seen = _new_events(s, c, cursor.last_id)
                retried = _due_retries(s, c.name, now)
                events = sorted([*fresh, *retried], key=lambda e: e.id)
            if events:
                _process(s, c, events, now)
            cursor.last_id = seen  # (past failed events too: they are in outbox_failures)
            if retried:  # handled at last: no longer a failure
                s.execute(delete(OutboxFailure).where(
                    OutboxFailure.consumer == c.name,
                    OutboxFailure.event_id.in_([e.id for e in retried])))
            return len(events), None
    except _EventFailed as failed:
        return 0, failed


def _incident_of(ev: OutboxEvent) -> int | None:
    kind, _, ident = ev.aggregate.partition(":")
    if kind == "incident" and ident.isdigit():
        return int(ident)
    value = ev.payload.get("incident_id") if isinstance(ev.payload, dict) else None
    return value if isinstance(value, int) else None


def _record_failure(db: Database, c: Consumer[Any], event_id: int, error: BaseException,
                    now: datetime, retry: Retry) -> Parked | None:
    """Count a failed attempt; park the event once its attempts run out."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()[-4000:]
    with db.write() as s:
        ev = s.get(OutboxEvent, event_id)
        if ev is None:  # gone (retention): nothing to retry
            return None
        row = s.scalars(select(OutboxFailure).where(
            OutboxFailure.consumer == c.name, OutboxFailure.event_id == event_id)
            .with_for_update()).first()
        if row is None:
            row = OutboxFailure(consumer=c.name, event_id=event_id, tenant_id=ev.tenant_id,
                                topic=ev.topic, attempts=0, error=text, first_failed_at=now,
                                last_failed_at=now)
            s.add(row)
        row.attempts += 1
        row.error, row.last_failed_at = text, now
        log.warning("outbox consumer %s failed on event %d (%s), attempt %d: %s", c.name,
                    event_id, ev.topic, row.attempts, text)
        if row.attempts < retry.max_attempts:
            row.next_attempt_at = now + retry.delay(row.attempts)
            return None
        row.next_attempt_at, row.parked_at = None, now
        parked = Parked(c.name, ev.id, ev.tenant_id, ev.topic, text, _incident_of(ev),
                        row.attempts)
        if c.on_park is not None:
            c.on_park(s, parked, now)
        return parked


def run(db: Database, c: Consumer[Any], now: datetime, retry: Retry | None = None,
        *, rounds: int = 20) -> Outcome:
    """Consume what is there now (a few batches at most): the new events past the cursor,
    and the failed events whose retry is due."""
    retry = retry or Retry()
    out = Outcome()
    for _ in range(rounds):
        try:
            handled, failed = _attempt(db, c, now, None)
        except Exception as exc:  # not pinned on one event (flush, commit): one by one
            log.warning("outbox consumer %s: batch failed (%s); one event at a time", c.name,
                        exc)
            handled, failed = _one_by_one(db, c, now, retry, out), None
        out.handled += handled
        if failed is not None:
            _failed(db, c, failed, now, retry, out)
            continue  # the batch again, without that event
        if handled < c.limit:
            break
    return out


def _failed(db: Database, c: Consumer[Any], failed: _EventFailed, now: datetime,
            retry: Retry, out: Outcome) -> None:
    out.failed += 1
    parked = _record_failure(db, c, failed.event_id, failed.error, now, retry)
    if parked is not None:
        out.parked.append(parked)


def _one_by_one(db: Database, c: Consumer[Any], now: datetime, retry: Retry,
                out: Outcome) -> int:
    """Each event past the cursor and each due retry in a transaction of its own, so the
    one that fails is known."""
    with db.read() as s:
        cursor = s.get(OutboxCursor, c.name)
        events = [*_new_events(s, c, cursor.last_id if cursor else 0)[0],
                  *_due_retries(s, c.name, now)]
        s.expunge_all()
    handled = 0
    for ev in sorted(events, key=lambda e: e.id):
        try:
            n, failed = _attempt(db, c, now, ev)
        except Exception as exc:
            n, failed = 0, _EventFailed(ev, exc)
        handled += n
        if failed is not None:
            _failed(db, c, failed, now, retry, out)
    return handled


def pending(c: Consumer[Any], now: datetime) -> ColumnElement[bool]:
    """True when ``run`` would find anything (a read, so an idle pass takes no write
    lock)."""
    last = select(OutboxCursor.last_id).where(OutboxCursor.name == c.name).scalar_subquery()
    return exists().where(OutboxEvent.id > func.coalesce(last, 0),
                          OutboxEvent.topic.in_(c.topics)) | \
        exists().where(OutboxFailure.consumer == c.name, OutboxFailure.parked_at.is_(None),
                       OutboxFailure.next_attempt_at <= now)


@dataclass(frozen=True)
class Lag:
    """How far behind a consumer is: its oldest event not yet handled (new past the
    cursor, or failed and waiting to be retried) and how many it has parked."""

    consumer: str
    oldest: datetime | None
    waiting: int
    retrying: int
    parked: int

    def seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest).total_seconds()) if self.oldest else 0.0


def lag(session: Session, c: Consumer[Any]) -> Lag:
    cursor = session.get(OutboxCursor, c.name)
    last = cursor.last_id if cursor else 0
    first_new = session.execute(select(OutboxEvent.id, OutboxEvent.created_at).where(
        OutboxEvent.id > last, OutboxEvent.topic.in_(c.topics))
        .order_by(OutboxEvent.id).limit(1)).first()
    waiting = 0
    if first_new is not None:
        capped = select(OutboxEvent.id).where(  # (counting stops at 10,000)
            OutboxEvent.id >= first_new.id, OutboxEvent.topic.in_(c.topics)).limit(10_000)
        waiting = session.scalar(select(func.count()).select_from(capped.subquery())) or 0
    retrying_first = session.execute(select(func.count(), func.min(OutboxEvent.created_at))
                                     .select_from(OutboxFailure).join(
        OutboxEvent, OutboxEvent.id == OutboxFailure.event_id).where(
        OutboxFailure.consumer == c.name, OutboxFailure.parked_at.is_(None))).one()
    parked = session.scalar(select(func.count()).select_from(OutboxFailure).where(
        OutboxFailure.consumer == c.name, OutboxFailure.parked_at.is_not(None))) or 0
    times = [t for t in (first_new.created_at if first_new else None, retrying_first[1])
             if t is not None]
    return Lag(c.name, min(times) if times else None, waiting, int(retrying_first[0] or 0),
               parked)


def failures(session: Session, *, tenant_id: int | None = None, consumer: str | None = None,
             parked: bool | None = None, limit: int = 100) -> list[OutboxFailure]:
    query = select(OutboxFailure).order_by(OutboxFailure.id.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(OutboxFailure.tenant_id == tenant_id)
    if consumer is not None:
        query = query.where(OutboxFailure.consumer == consumer)
    if parked is not None:
        query = query.where(OutboxFailure.parked_at.is_not(None) if parked
                            else OutboxFailure.parked_at.is_(None))
    return list(session.scalars(query))


def replay(session: Session, *, ids: Sequence[int] | None, now: datetime,
           tenant_id: int | None = None) -> int:
    """Put parked events back in line (all of them when ``ids`` is None): each is retried
    with a fresh count of attempts at the consumer's next pass."""
    stmt = update(OutboxFailure).where(OutboxFailure.parked_at.is_not(None))
    if tenant_id is not None:
        stmt = stmt.where(OutboxFailure.tenant_id == tenant_id)
    if ids is not None:
        stmt = stmt.where(OutboxFailure.id.in_(list(ids)))
    done = session.execute(stmt.values(parked_at=None, attempts=0, next_attempt_at=now,
                                       replayed_at=now))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
