"""Integrations: create, list, revoke, and find one by its key (cached on the hot path)."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.db import Database
from vigil.errors import InvalidInput, NotFound
from vigil.integrations.generic.parser import validate_config
from vigil.integrations.models import Integration
from vigil.integrations.registry import INTEGRATION_TYPES


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


def create_integration(
    session: Session, *, tenant_id: int, name: str, type: str, now: datetime,
    config: dict[str, Any] | None = None, key: str | None = None,
) -> Integration:
    if type not in INTEGRATION_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(INTEGRATION_TYPES)}", field="type")
    if not name.strip():
        raise InvalidInput("name must not be empty", field="name")
    cfg = config or {}
    if type == "generic":
        cfg = validate_config(cfg)
    elif cfg:
        raise InvalidInput(f"{type} integrations take no config", field="config")
    integ = Integration(
        tenant_id=tenant_id, name=name.strip(), type=type, key=key or new_key(), config=cfg,
        created_at=now,
    )
    session.add(integ)
    session.flush()
    return integ


def list_integrations(session: Session, *, tenant_id: int) -> list[Integration]:
    return list(session.scalars(
        select(Integration).where(Integration.tenant_id == tenant_id).order_by(Integration.id)
    ))


def get_integration(session: Session, *, tenant_id: int, integration_id: int) -> Integration:
    integ = session.get(Integration, integration_id)
    if integ is None or integ.tenant_id != tenant_id:
        raise NotFound(f"no integration {integration_id}", field="id")
    return integ


def revoke_integration(
    session: Session, *, tenant_id: int, integration_id: int, now: datetime
) -> Integration:
    integ = get_integration(session, tenant_id=tenant_id, integration_id=integration_id)
    if integ.revoked_at is None:
        integ.revoked_at = now
    return integ


class IntegrationDirectory:
    """Key -> integration, cached for ``ttl`` seconds so ingest does not query per request.
    A revoked key stops working on every node within ``ttl``."""

    def __init__(self, db: Database, ttl: float = 10.0) -> None:
        self.db = db
        self.ttl = ttl
        self._cache: dict[str, tuple[float, IntegrationInfo | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, IntegrationInfo | None]:
        """(known, info) from the cache alone; known is False when the database must say."""
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def lookup(self, key: str) -> IntegrationInfo | None:
        known, info = self.cached(key)
        if known:
            return info
        now = time.monotonic()
        with self.db.read() as session:
            row = session.scalar(
                select(Integration).where(Integration.key == key, Integration.revoked_at.is_(None))
            )
            info = (
                IntegrationInfo(row.id, row.tenant_id, row.name, row.type, dict(row.config or {}))
                if row is not None else None
            )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + self.ttl, info)
        return info

    def forget(self, key: str) -> None:
        self._cache.pop(key, None)
