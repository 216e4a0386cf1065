from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, JSONType, UTCDateTime


class Silence(Base):
    """Alerts whose labels match every matcher between ``starts_at`` and ``ends_at`` are
    stored as suppressed: counted, kept, but they open no incident."""

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_tenant_ends", "tenant_id", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MaintenanceWindow(Base):
    """Planned quiet: one-off or recurring (cron or RRULE in a time zone). ``spec`` is the
    window's JSON form (``rules.maintenance.window_to_dict``)."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (
        Index("uq_maintenance_windows_tenant_name", "tenant_id", "name", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InhibitionRule(Base):
    """While a firing alert matches ``source_matchers``, new alerts matching
    ``target_matchers`` that share the ``equal`` labels are muted (as in Alertmanager)."""

    __tablename__ = "inhibition_rules"
    __table_args__ = (
        Index("uq_inhibition_rules_tenant_name", "tenant_id", "name", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FlapRecord(Base):
    """An alert identity's recent fire/resolve changes (``rules.flapping.FlapState``),
    written when it resolves and, after that, when it fires again."""

    __tablename__ = "flap_states"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    changes: Mapped[list[str]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
