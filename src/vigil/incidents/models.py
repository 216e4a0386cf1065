from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, BigId, JSONType, UTCDateTime


class Incident(Base):
    """What a human looks at: one or more alerts, with a life of its own."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("uq_incidents_tenant_number", "tenant_id", "number", unique=True),
        Index("ix_incidents_tenant_status_created", "tenant_id", "status", "created_at"),
        Index("ix_incidents_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_incidents_group", "tenant_id", "group_key"),
        # The list sorted by severity, and the counts by status (an index-only scan).
        Index("ix_incidents_tenant_severity", "tenant_id", "severity", "id"),
        Index("ix_incidents_tenant_last_seen", "tenant_id", "last_seen_at", "id"),
        Index("ix_incidents_tenant_counts_severity", "tenant_id", "status", "pending",
              "candidate", "severity"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(512))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[int] = mapped_column(SmallInteger)
    priority: Mapped[str | None] = mapped_column(String(2))
    category: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(200))
    services: Mapped[list[str]] = mapped_column(JSONType)
    sources: Mapped[list[str]] = mapped_column(JSONType)
    alert_count: Mapped[int] = mapped_column(Integer)
    open_alert_count: Mapped[int] = mapped_column(Integer)
    group_key: Mapped[str] = mapped_column(String(512))
    resolve_on: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    merged_into_id: Mapped[int | None] = mapped_column(BigId)
    noise: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution: Mapped[str | None] = mapped_column(Text)
    # Correlation: the rule that made it; "pending" until the rule's threshold or create_on
    # "all" is met; "candidate" until a person confirms it (require_approval).
    rule_id: Mapped[int | None] = mapped_column(Integer)
    pending: Mapped[bool] = mapped_column(Boolean, default=False)
    candidate: Mapped[bool] = mapped_column(Boolean, default=False)
    occurrences: Mapped[int] = mapped_column(Integer, default=0)
    parts_seen: Mapped[list[int]] = mapped_column(JSONType, default=list)
    first_fingerprint: Mapped[str | None] = mapped_column(String(64))
    last_fingerprint: Mapped[str | None] = mapped_column(String(64))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    escalation_policy: Mapped[str | None] = mapped_column(String(200))
    related_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)


class IncidentEvent(Base):
    """The timeline: every change, with who, when, before and after. Append-only."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    incident_id: Mapped[int] = mapped_column(BigId)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any]] = mapped_column(JSONType)
    after: Mapped[dict[str, Any]] = mapped_column(JSONType)





class IncidentPolicy(Base):
    """An assignment rule (``kind`` "assignment") or a severity escalation rule ("severity");
    ``spec`` is its JSON form (``incidents.policies``)."""

    __tablename__ = "incident_policies"
    __table_args__ = (
        Index("uq_incident_policies_tenant_kind_name", "tenant_id", "kind", "name", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
