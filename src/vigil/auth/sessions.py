"""Web sessions kept in the database, so they can be revoked.

The cookie holds a random token; the table holds its SHA-256, the person, the CSRF token,
when it was made, last seen and expires, whether it was revoked, and where it came from.
Reading a session is one indexed lookup (``token_hash``) joined to its user.

A session ends at the first of: ``ABSOLUTE_LIFETIME`` after sign-in, ``IDLE_TIMEOUT``
after it was last seen, sign-out, revocation (by an admin, by its person, by a password
change or a role change), or the person's deletion (the rows go with the user)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from vigil.auth.models import User, UserSession
from vigil.auth.service import hash_secret
from vigil.errors import NotFound

ABSOLUTE_LIFETIME = timedelta(hours=12)
IDLE_TIMEOUT = timedelta(hours=2)
#: ``last_seen_at`` is written at most this often per session (a read stays a read).
TOUCH_EVERY = timedelta(minutes=5)
#: Ended sessions are listed this long, then pruned when their person signs in again.
KEEP_ENDED = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Live:
    """A valid session and its person, as one lookup found them."""

    id: int
    user: User
    csrf: str
    last_seen_at: datetime
    expires_at: datetime

    def stale(self, now: datetime) -> bool:
        return now - self.last_seen_at >= TOUCH_EVERY


def idle_expiry(row: UserSession) -> datetime:
    return min(row.expires_at, row.last_seen_at + IDLE_TIMEOUT)


def is_active(row: UserSession, now: datetime) -> bool:
    return row.revoked_at is None and now < idle_expiry(row)


def create(session: Session, *, user: User, now: datetime, address: str | None = None,
           user_agent: str | None = None) -> tuple[UserSession, str]:
    """A new session for ``user``; returns the row and the raw token for the cookie.
    Prunes the person's sessions that ended more than ``KEEP_ENDED`` ago."""
    session.execute(delete(UserSession).where(
        UserSession.user_id == user.id,
        or_(UserSession.expires_at < now - KEEP_ENDED,
            UserSession.revoked_at < now - KEEP_ENDED,
            UserSession.last_seen_at < now - KEEP_ENDED - IDLE_TIMEOUT)))
    raw = secrets.token_urlsafe(32)
    row = UserSession(tenant_id=user.tenant_id, user_id=user.id, token_hash=hash_secret(raw),
                      csrf=secrets.token_urlsafe(24), created_at=now, last_seen_at=now,
                      expires_at=now + ABSOLUTE_LIFETIME, address=(address or None) and
                      address[:64], user_agent=(user_agent or None) and user_agent[:300])
    session.add(row)
    session.flush()
    return row, raw


def lookup(session: Session, raw: str | None, now: datetime) -> Live | None:
    """The live session whose token is ``raw``: one indexed SELECT joined to its user."""
    if not raw or len(raw) > 200:
        return None
    found = session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == hash_secret(raw))).first()
    if found is None:
        return None
    row, user = found
    if not is_active(row, now):
        return None
    return Live(row.id, user, row.csrf, row.last_seen_at, row.expires_at)


def touch(session: Session, *, session_id: int, now: datetime) -> None:
    """Move ``last_seen_at`` (the idle clock) to ``now``."""
    session.execute(update(UserSession).where(UserSession.id == session_id,
                                              UserSession.last_seen_at < now)
                    .values(last_seen_at=now))


def revoke_token(session: Session, *, raw: str | None, now: datetime) -> UserSession | None:
    """Sign-out: revoke the session whose token is ``raw``, if it is live."""
    if not raw or len(raw) > 200:
        return None
    row = session.scalars(select(UserSession).where(
        UserSession.token_hash == hash_secret(raw))).first()
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at = now
    return row


def get(session: Session, *, tenant_id: int, session_id: int) -> UserSession:
    row = session.get(UserSession, session_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"no session {session_id}", field="id")
    return row


def revoke(session: Session, *, row: UserSession, now: datetime) -> UserSession:
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def revoke_all(session: Session, *, user_id: int, now: datetime,
               keep: int | None = None) -> int:
    """Revoke every live session of the person (but ``keep``); answers how many."""
    stmt = update(UserSession).where(UserSession.user_id == user_id,
                                     UserSession.revoked_at.is_(None),
                                     UserSession.expires_at > now)
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    result = session.execute(stmt.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def of_user(session: Session, *, user_id: int) -> list[UserSession]:
    """The person's sessions, newest first (live ones and those that ended lately)."""
    return list(session.scalars(select(UserSession).where(UserSession.user_id == user_id)
                                .order_by(UserSession.created_at.desc(),
                                          UserSession.id.desc())))


def audit(session: Session, *, tenant_id: int, actor: str, action: str, target: str,
          now: datetime, before: dict[str, Any] | None = None,
          after: dict[str, Any] | None = None, address: str | None = None) -> None:
    """An audit-log entry for a sign-in, sign-out, revocation or setup, in the caller's
    transaction."""
    from vigil.audit.service import record

    record(session, tenant_id=tenant_id, actor=actor, action=action, target=target,
           before=before, after=after, now=now, address=address)


def end_all(session: Session, *, user: User, actor: str, now: datetime, reason: str,
            keep: int | None = None) -> int:
    """Revoke the person's live sessions (but ``keep``) and audit it; answers how many."""
    count = revoke_all(session, user_id=user.id, now=now, keep=keep)
    if count:
        audit(session, tenant_id=user.tenant_id, actor=actor, action="revoke_sessions",
              target=f"user:{user.username}", after={"revoked": count, "reason": reason},
              now=now)
    return count
