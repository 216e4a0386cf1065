"""Integrations: create, list, revoke, rotate keys, and find one by its key (cached on the
hot path; each change is announced to every node's cache in its transaction). A key is
shown once; only its SHA-256 (``auth.service.hash_secret``) and its last characters are
stored."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, or_, select
from sqlalchemy.orm import Session

from vigil.auth.service import hash_secret
from vigil.configstate import INTEGRATIONS, StateCache, changed, versions_of
from vigil.db import Database
from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.integrations.generic.parser import validate_config
from vigil.integrations.models import Integration
from vigil.integrations.registry import INTEGRATION_TYPES

#: How long a rotated-out key may keep working, at most (``grace_seconds``).
MAX_GRACE_SECONDS = 7 * 24 * 3600
#: How many of a key's last characters are kept to recognise it by.
HINT_CHARS = 4
_integrations = cast(Table, Integration.__table__)


@dataclass(frozen=True, slots=True)
class IntegrationInfo:
    id: int
    tenant_id: int
    name: str
    type: str
    config: dict[str, Any]


def new_key() -> str:
    # 32 hex characters: the shape of a PagerDuty routing key, accepted by every sender.
    return secrets.token_hex(16)


def _set_key(integ: Integration) -> str:
    raw = new_key()
    integ.key_hash = hash_secret(raw)
    integ.key_hint = raw[-HINT_CHARS:]
    return raw


def create_integration(
    session: Session, *, tenant_id: int, name: str, type: str, now: datetime,
    config: dict[str, Any] | None = None,
) -> tuple[Integration, str]:
    """The new integration and its key, which is not stored and cannot be read again."""
    if type not in INTEGRATION_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(INTEGRATION_TYPES)}", field="type")
    if not name.strip():
        raise InvalidInput("name must not be empty", field="name")
    cfg = config or {}
    if type == "generic":
        cfg = validate_config(cfg)
    elif cfg:
        raise InvalidInput(f"{type} integrations take no config", field="config")
    integ = Integration(tenant_id=tenant_id, name=name.strip(), type=type, config=cfg,
                        created_at=now)
    raw = _set_key(integ)
    session.add(integ)
    session.flush()
    changed(session, INTEGRATIONS, now)
    return integ, raw


def list_integrations(session: Session, *, tenant_id: int) -> list[Integration]:
    return list(session.scalars(
        select(Integration).where(Integration.tenant_id == tenant_id).order_by(Integration.id)
    ))


def get_integration(session: Session, *, tenant_id: int, integration_id: int) -> Integration:
    integ = session.get(Integration, integration_id)
    if integ is None or integ.tenant_id != tenant_id:
        raise NotFound(f"no integration {integration_id}", field="id")
    return integ


def key_hashes(integ: Integration) -> list[str]:
    """The hashes a key of ``integ`` may be cached under (to forget them)."""
    return [h for h in (integ.key_hash, integ.previous_key_hash) if h]


def previous_key_until(integ: Integration, now: datetime) -> datetime | None:
    """Until when the rotated-out key still works, or None when it does not."""
    until = integ.previous_key_expires_at
    return until if integ.previous_key_hash and until is not None and until > now else None


def revoke_integration(
    session: Session, *, tenant_id: int, integration_id: int, now: datetime
) -> Integration:
    integ = get_integration(session, tenant_id=tenant_id, integration_id=integration_id)
    if integ.revoked_at is None:
        integ.revoked_at = now
        changed(session, INTEGRATIONS, now)
    return integ


def rotate_key(
    session: Session, *, tenant_id: int, integration_id: int, now: datetime,
    grace_seconds: int = 0,
) -> tuple[Integration, str, list[str]]:
    """A new key for the integration: (integration, new key, hashes to forget from caches).

    With ``grace_seconds`` the key being replaced keeps working that long; a key that was
    still in an earlier grace period stops at once."""
    if isinstance(grace_seconds, bool) or not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise InvalidInput(f"grace_seconds must be 0 to {MAX_GRACE_SECONDS} (7 days)",
                           field="grace_seconds")
    integ = get_integration(session, tenant_id=tenant_id, integration_id=integration_id)
    if integ.revoked_at is not None:
        raise Conflict(f"integration {integration_id} is revoked; create a new one",
                       field="id")
    stale = key_hashes(integ)
    if grace_seconds:
        integ.previous_key_hash = integ.key_hash
        integ.previous_key_expires_at = now + timedelta(seconds=grace_seconds)
    else:
        integ.previous_key_hash = None
        integ.previous_key_expires_at = None
    raw = _set_key(integ)
    session.flush()
    changed(session, INTEGRATIONS, now)
    return integ, raw, stale


@dataclass(frozen=True, slots=True)
class _Found:
    info: IntegrationInfo | None
    until: datetime | None  # a rotated-out key: it works until then


def _find(conn: Connection, digest: Any, now: datetime | None) -> _Found:
    assert now is not None
    row = conn.execute(select(
        _integrations.c.id, _integrations.c.tenant_id, _integrations.c.name,
        _integrations.c.type, _integrations.c.config, _integrations.c.key_hash,
        _integrations.c.previous_key_expires_at).where(
        or_(_integrations.c.key_hash == digest,
            and_(_integrations.c.previous_key_hash == digest,
                 _integrations.c.previous_key_expires_at > now)),
        _integrations.c.revoked_at.is_(None))).first()
    if row is None:
        return _Found(None, None)
    info = IntegrationInfo(row.id, row.tenant_id, row.name, row.type, dict(row.config or {}))
    return _Found(info, row.previous_key_expires_at if row.key_hash != digest else None)


class IntegrationDirectory:
    """Key -> integration, cached by the key's hash (no key is kept in memory either) so
    ingest does not query per request: one indexed lookup per key while no integration
    changes (``configstate``). A created, revoked or rotated key applies at once on this
    node and within a second on the others; a rotated-out key in its grace period stops
    at its expiry on every node."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.cache: StateCache[_Found] = StateCache(_find, versions=versions_of(db),
                                                    topic=INTEGRATIONS)

    @staticmethod
    def _answer(found: _Found, now: datetime) -> IntegrationInfo | None:
        if found.until is not None and now >= found.until:
            return None
        return found.info

    def cached(self, key: str, now: datetime) -> tuple[bool, IntegrationInfo | None]:
        """(known, info) from the cache alone; known is False when the database must say."""
        found = self.cache.current(hash_secret(key))
        if found is None:
            return False, None
        return True, self._answer(found, now)

    def lookup(self, key: str, now: datetime) -> IntegrationInfo | None:
        known, info = self.cached(key, now)
        if known:
            return info
        with self.db.read() as session:
            found = self.cache.get(session.connection(), hash_secret(key), now)
        return self._answer(found, now)

    def forget(self, *digests: str) -> None:
        """Drop every cached answer (a change made behind the services' back)."""
        self.cache.invalidate()
