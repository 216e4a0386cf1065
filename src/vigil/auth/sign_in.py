"""Signing in: argon2 password hashes, the session cookie (a random token naming a
server-side session, ``vigil.auth.sessions``) and the CSRF token that every
state-changing request made with that cookie must carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy.orm import Session

from vigil.auth import sessions
from vigil.auth.models import User
from vigil.db import Database
from vigil.errors import NotFound

COOKIE = "vigil_session"
LIFETIME = sessions.ABSOLUTE_LIFETIME
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    if not stored:
        _hasher.hash(password)  # the same work whether or not the user exists
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


@dataclass(frozen=True)
class SessionData:
    """A live session as a request sees it."""

    user_id: int
    csrf: str
    expires: int
    #: The ``user_sessions`` row.
    id: int = 0
    last_seen_at: datetime | None = None
    #: The person, loaded by the same query (held here so that ``session.get(User, ...)``
    #: in the same database session finds them without another query).
    user: User | None = field(default=None, compare=False, repr=False)


def make_cookie(session: Session, user_id: int, now: datetime, *, address: str | None = None,
                user_agent: str | None = None) -> tuple[str, SessionData]:
    """Start a session for the user; answers the cookie value (the raw token)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id")
    row, raw = sessions.create(session, user=user, now=now, address=address,
                               user_agent=user_agent)
    return raw, SessionData(user_id, row.csrf, int(row.expires_at.timestamp()), row.id, now)


def read_cookie(session: Session, value: str | None, now: datetime) -> SessionData | None:
    """The live session the cookie names (one indexed lookup, its user loaded with it, so
    ``session.get(User, data.user_id)`` afterwards needs no query)."""
    live = sessions.lookup(session, value, now)
    if live is None:
        return None
    return SessionData(live.user.id, live.csrf, int(live.expires_at.timestamp()), live.id,
                       live.last_seen_at, live.user)


def touch(db: Database, data: SessionData, now: datetime) -> None:
    """Restart the session's idle clock, at most every ``sessions.TOUCH_EVERY`` (so most
    requests only read)."""
    if data.last_seen_at is None or now - data.last_seen_at < sessions.TOUCH_EVERY:
        return
    with db.write() as s:
        sessions.touch(s, session_id=data.id, now=now)
