"""Signing in: argon2 password hashes, a signed session cookie (user, expiry, CSRF token)
and the CSRF check for every state-changing request made with that cookie."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy.orm import Session

from vigil.notify.links import existing_secret
from vigil.notify.links import secret as app_secret

COOKIE = "vigil_session"
LIFETIME = timedelta(hours=12)
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
    user_id: int
    csrf: str
    expires: int


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key + b":session", body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_cookie(session: Session, user_id: int, now: datetime) -> tuple[str, SessionData]:
    data = SessionData(user_id, secrets.token_urlsafe(16), int((now + LIFETIME).timestamp()))
    body = f"{data.user_id}.{data.csrf}.{data.expires}"
    return f"{body}.{_mac(app_secret(session), body)}", data


def read_cookie(session: Session, value: str | None, now: datetime) -> SessionData | None:
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[2].isdigit():
        return None
    body = ".".join(parts[:3])
    key = existing_secret(session)
    if key is None or not hmac.compare_digest(parts[3], _mac(key, body)):
        return None
    if int(parts[2]) < now.timestamp():
        return None
    return SessionData(int(parts[0]), parts[1], int(parts[2]))
