"""The one-time setup token: who may create the first administrator at ``/setup``.

While no user has a password, ``vigil serve`` issues a token and prints it in its banner
as ``<base url>/setup?token=...``; ``vigil setup-token`` issues a new one if it was lost.
Only the newest token is valid (only its SHA-256 is stored) and creating the first
administrator consumes it. An admin API key may be used instead of the token."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vigil.auth.models import SetupToken, User
from vigil.auth.service import hash_secret
from vigil.config import Settings
from vigil.db import Database


def needed(session: Session) -> bool:
    """First run: nobody can sign in with a password yet (as ``web.render.needs_setup``)."""
    return not session.scalar(select(func.count()).select_from(User).where(
        User.password_hash.is_not(None)))


def issue(session: Session, *, now: datetime) -> str | None:
    """A new token replacing any earlier one; None when setup is done."""
    if not needed(session):
        return None
    raw = secrets.token_urlsafe(32)
    session.execute(delete(SetupToken))
    session.add(SetupToken(token_hash=hash_secret(raw), created_at=now))
    session.flush()
    return raw


def valid(session: Session, raw: str | None) -> bool:
    if not raw or len(raw) > 200:
        return False
    stored = session.scalars(select(SetupToken.token_hash)).all()
    return any(hmac.compare_digest(h, hash_secret(raw)) for h in stored)


def consume(session: Session, raw: str | None) -> bool:
    """Claim the token for this transaction (a second claim of the same token, even
    concurrent on another node, finds nothing), then forget every token."""
    if not raw or len(raw) > 200:
        return False
    claimed = session.execute(delete(SetupToken).where(
        SetupToken.token_hash == hash_secret(raw)))
    if not getattr(claimed, "rowcount", 0):
        return False
    session.execute(delete(SetupToken))
    return True


def forget(session: Session) -> None:
    """Setup is done another way (an admin API key): no token is needed any more."""
    session.execute(delete(SetupToken))


def setup_url(db: Database, settings: Settings, *, now: datetime) -> str | None:
    """For the banner of ``vigil serve`` and for ``vigil setup-token``: a new token's
    URL while setup is needed, else None (also when OpenID Connect is set up: then
    people sign in through the provider and ``/setup`` is closed)."""
    if settings.oidc_issuer and settings.oidc_client_id:
        return None
    with db.write() as s:
        raw = issue(s, now=now)
    return None if raw is None else f"{settings.base_url}/setup?token={raw}"
