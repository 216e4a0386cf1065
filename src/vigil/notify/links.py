"""Signed action links: acknowledge or resolve an incident from a notification without
signing in. A token names one incident and one action and expires; it is an HMAC-SHA256
over those under a secret Vigil makes for itself on first use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vigil.errors import NotFound
from vigil.notify.models import AppSecret

ACTIONS = ("acknowledge", "resolve")
LIFETIME = timedelta(hours=24)


def existing_secret(session: Session) -> bytes | None:
    """The secret if it has been made: a read, for checks that need no write lock (a token
    or cookie signed before the secret existed cannot be valid)."""
    value = session.scalar(select(AppSecret.value).where(AppSecret.name == "links"))
    return None if value is None else value.encode()


def secret(session: Session) -> bytes:
    """The secret, made on first use (in a write session)."""
    found = existing_secret(session)
    if found is not None:
        return found
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(AppSecret).values(name="links", value=secrets.token_urlsafe(32))
                    .on_conflict_do_nothing())
    value = session.scalars(select(AppSecret.value).where(AppSecret.name == "links")).one()
    return value.encode()


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).decode().rstrip("=")


def sign(key: bytes, incident_id: int, action: str, now: datetime,
         lifetime: timedelta = LIFETIME) -> str:
    if action not in ACTIONS:
        raise ValueError(f"no such action {action!r}")
    body = f"{incident_id}.{action}.{int((now + lifetime).timestamp())}"
    return f"{body}.{_mac(key, body)}"


def verify(key: bytes, token: str, now: datetime) -> tuple[int, str]:
    """(incident id, action) of a valid token; NotFound for any other (a bad link says no
    more than that it is not valid)."""
    parts = token.split(".")
    if len(parts) != 4:
        raise NotFound("this link is not valid", field="token")
    incident, action, expires, mac = parts
    body = f"{incident}.{action}.{expires}"
    if not hmac.compare_digest(mac, _mac(key, body)) or action not in ACTIONS:
        raise NotFound("this link is not valid", field="token")
    if not expires.isdigit() or int(expires) < now.timestamp():
        raise NotFound("this link has expired; open the incident in Vigil", field="token")
    return int(incident), action
