from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, BigId, JSONType, UTCDateTime


class Alert(Base):
    """One thing that is (or was) wrong. Unique per fingerprint among unresolved alerts."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_fingerprint",
            "tenant_id",
            "fingerprint",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        # An Alertmanager-style trigger that finds no open alert looks up the latest
        # resolved one of its fingerprint (by startsAt), to tell a stale re-send from a
        # new firing (pipeline/store.py ``load_last_resolved``).
        Index(
            "ix_alerts_resolved_fingerprint",
            "tenant_id",
            "fingerprint",
            "starts_at",
            "id",
            sqlite_where=text("status = 'resolved'"),
            postgresql_where=text("status = 'resolved'"),
        ),
        Index("ix_alerts_tenant_last_received", "tenant_id", "last_received_at", "id"),
        Index("ix_alerts_tenant_status", "tenant_id", "status", "last_received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    integration_id: Mapped[int | None] = mapped_column(ForeignKey("integrations.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    fingerprint_version: Mapped[int] = mapped_column(SmallInteger)
    dedup_key: Mapped[str | None] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(512))
    summary: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    service: Mapped[str | None] = mapped_column(String(200), index=True)
    environment: Mapped[str | None] = mapped_column(String(100))
    labels: Mapped[dict[str, str]] = mapped_column(JSONType)
    annotations: Mapped[dict[str, str]] = mapped_column(JSONType)
    links: Mapped[list[dict[str, str]]] = mapped_column(JSONType)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    occurrences: Mapped[int] = mapped_column(Integer)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    incident_id: Mapped[int | None] = mapped_column(BigId, index=True)
    #: Why a suppressed alert is quiet: "silence:<id>", "maintenance:<id>",
    #: "inhibited:<rule id>" or "flapping".
    suppressed_by: Mapped[str | None] = mapped_column(String(64))


class AlertEventRecord(Base):
    """Raw history: every event received, kept for the retention period."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_alert", "alert_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    alert_id: Mapped[int | None] = mapped_column(BigId)
    integration_id: Mapped[int | None] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(200))
    # No index: retention finds its boundary by id order (see worker/retention.py).
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)


class AlertsPerHour(Base):
    """How many alerts were first received in each hour (UTC), per tenant: a rollup the
    writer keeps up to date in each batch's transaction, so the dashboard's 24-hour chart
    reads 24 rows, not every alert of the day."""

    __tablename__ = "alerts_per_hour"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    alerts: Mapped[int] = mapped_column(Integer)
