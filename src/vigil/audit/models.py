"""One row per configuration change or sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, BigId, JSONType, UTCDateTime


class AuditEntry(Base):
    """``actor`` did ``action`` to ``target`` (``<type>:<id>``) at ``occurred_at``;
    ``before``/``after`` hold the changed object's values with secrets masked."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_tenant_time", "tenant_id", "occurred_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: ``apikey:<name>``, ``user:<username>``, ``cli``, ``system:config-file``, ``system``
    actor: Mapped[str] = mapped_column(String(200))
    #: ``create``, ``update``, ``delete``, ``sign_in``, ``sign_in_failed``, ...
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(400))
    #: The part of ``target`` before the first ``:`` (what the list filters by).
    target_type: Mapped[str] = mapped_column(String(64))
    #: The client's address, where there is one (sign-ins).
    address: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
