"""API keys and roles. Keys are random secrets; only their SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.auth.models import ApiKey
from vigil.errors import InvalidInput, NotFound

ROLES = ("viewer", "responder", "admin")
API_KEY_PREFIX = "vgl_"


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: int
    key_id: int | None
    name: str
    role: str
    #: Set when a person signed in to the web UI (then ``name`` is their username).
    user_id: int | None = None
    #: The web session (``user_sessions`` row) the request came with, if any.
    session_id: int | None = None

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def actor(self) -> str:
        return f"user:{self.name}" if self.user_id is not None else f"apikey:{self.name}"


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_key(
    session: Session, *, tenant_id: int, name: str, role: str, now: datetime
) -> tuple[ApiKey, str]:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    if not name.strip():
        raise InvalidInput("name must not be empty", field="name")
    raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=tenant_id, name=name.strip(), role=role, prefix=raw[:12],
        key_hash=hash_secret(raw), created_at=now,
    )
    session.add(key)
    session.flush()
    return key, raw


def authenticate(session: Session, *, raw: str) -> Principal | None:
    key = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_secret(raw), ApiKey.revoked_at.is_(None))
    )
    if key is None:
        return None
    return Principal(key.tenant_id, key.id, key.name, key.role)


def list_api_keys(session: Session, *, tenant_id: int) -> list[ApiKey]:
    return list(session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
    ))


def revoke_api_key(session: Session, *, tenant_id: int, key_id: int, now: datetime) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.tenant_id != tenant_id:
        raise NotFound(f"no API key {key_id}", field="id")
    if key.revoked_at is None:
        key.revoked_at = now
    return key


def count_active_api_keys(session: Session) -> int:
    return len(list(session.scalars(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)))))
