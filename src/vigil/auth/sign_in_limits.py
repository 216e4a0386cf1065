"""Sign-in rate limits per username and per client address, with exponential backoff.

Counters live in the database (``sign_in_attempts``), so every node sharing PostgreSQL
sees the same ones; time comes from the caller's clock.

An attempt is counted *before* its password is checked (``begin``), in a transaction that
locks the counter rows, so a burst of parallel guesses cannot all slip in before the first
failure is written: once a counter reaches its ``threshold``, the subject is locked for
``base``, doubled with each further failure up to ``cap``. Attempts made while locked are
refused without checking the password and are not counted. A counter is forgotten
``WINDOW`` after its last failure or lock ended.

``succeeded`` undoes the attempt: the username's counter is reset, the address's counter
only loses the one attempt (a valid account must not clear an address that is guessing
other accounts' passwords)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vigil.auth.models import SignInAttempt


@dataclass(frozen=True, slots=True)
class Limit:
    scope: str
    threshold: int
    base: timedelta
    cap: timedelta

    def lock(self, failures: int) -> timedelta | None:
        if failures < self.threshold:
            return None
        doubled: timedelta = self.base * 2 ** min(failures - self.threshold, 20)
        return min(self.cap, doubled)


USER = Limit("user", threshold=5, base=timedelta(seconds=30), cap=timedelta(minutes=15))
ADDRESS = Limit("address", threshold=20, base=timedelta(seconds=30), cap=timedelta(hours=1))
WINDOW = timedelta(minutes=15)
#: Counters idle this long are deleted (by the next attempt anyone makes).
PRUNE_AFTER = timedelta(days=1)


def _rows(session: Session, subjects: list[tuple[Limit, str]], now: datetime
          ) -> list[tuple[Limit, SignInAttempt]]:
    """The counter rows, made if missing and locked for this transaction (PostgreSQL;
    SQLite writers take turns anyway)."""
    pg = session.get_bind().dialect.name == "postgresql"
    insert = pg_insert if pg else sqlite_insert
    out = []
    for limit, subject in subjects:
        session.execute(insert(SignInAttempt).values(
            scope=limit.scope, subject=subject, failures=0, last_failed_at=now,
            locked_until=None).on_conflict_do_nothing())
        query = select(SignInAttempt).where(SignInAttempt.scope == limit.scope,
                                            SignInAttempt.subject == subject)
        query = query.execution_options(populate_existing=True)
        row = session.scalars(query.with_for_update() if pg else query).one()
        out.append((limit, row))
    return out


def _subjects(username: str, address: str | None) -> list[tuple[Limit, str]]:
    found = [(USER, username.strip().lower()[:200])]
    if address:
        found.append((ADDRESS, address[:200]))
    return found


@dataclass(frozen=True, slots=True)
class Attempt:
    #: Set when the attempt was refused (locked): how long to wait. Nothing was counted.
    refused: timedelta | None
    #: Set when this attempt, if its password is wrong, leaves the username or the address
    #: locked: for how long.
    locks_for: timedelta | None


def begin(session: Session, *, username: str, address: str | None,
          now: datetime) -> Attempt:
    """Count one attempt, before its password is checked; refused instead (and not
    counted) while the username or the address is locked."""
    rows = _rows(session, _subjects(username, address), now)
    # Forget long-quiet counters; rows another attempt holds are skipped, not waited for
    # (waiting while holding this attempt's rows could deadlock with it).
    stale = select(SignInAttempt.id).where(SignInAttempt.last_failed_at < now - PRUNE_AFTER,
                                           SignInAttempt.id.not_in([r.id for _, r in rows]))
    session.execute(delete(SignInAttempt).where(
        SignInAttempt.id.in_(stale.limit(100).with_for_update(skip_locked=True))))
    waits = [row.locked_until - now for _, row in rows
             if row.locked_until is not None and row.locked_until > now]
    if waits:
        return Attempt(refused=max(waits), locks_for=None)
    locks = []
    for limit, row in rows:
        quiet_since = max(row.last_failed_at, row.locked_until or row.last_failed_at)
        if now - quiet_since > WINDOW:
            row.failures = 0
        row.failures += 1
        row.last_failed_at = now
        lock = limit.lock(row.failures)
        row.locked_until = None if lock is None else now + lock
        if lock is not None:
            locks.append(lock)
    return Attempt(refused=None, locks_for=max(locks) if locks else None)


def succeeded(session: Session, *, username: str, address: str | None,
              now: datetime) -> None:
    """The attempt ``begin`` counted was right: reset the username's counter and take the
    one attempt off the address's."""
    for limit, row in _rows(session, _subjects(username, address), now):
        if limit is USER:
            session.delete(row)
            continue
        row.failures = max(0, row.failures - 1)
        lock = limit.lock(row.failures)
        if lock is None:
            row.locked_until = None


def reset_user(session: Session, *, username: str) -> None:
    """Forget the username's failures (a sign-in that needed no password, e.g. OpenID
    Connect, succeeded)."""
    session.execute(delete(SignInAttempt).where(
        SignInAttempt.scope == USER.scope,
        SignInAttempt.subject == username.strip().lower()[:200]))
