"""Notification rows: configured channels, routing rules, template overrides and the
delivery log (one row per notification; its ``key`` is the idempotency key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, BigId, JSONType, UTCDateTime


class NotificationChannel(Base):
    """A configured channel (SMTP server, Slack workspace or webhook, Twilio account, ...).
    ``personal`` channels carry people's own notifications (to the address of their
    contact method); the others are targets of routing rules."""

    __tablename__ = "notification_channels"
    __table_args__ = (
        Index("uq_notification_channels_tenant_name", "tenant_id", "name", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSONType)
    personal: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Most messages per minute to one address (queued beyond, never dropped).
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RoutingRule(Base):
    """Incident events matching the filters go to the named channels."""

    __tablename__ = "routing_rules"
    __table_args__ = (Index("uq_routing_rules_tenant_name", "tenant_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TemplateOverride(Base):
    """A user's template for one channel kind and event (the defaults are built in)."""

    __tablename__ = "notification_templates"
    __table_args__ = (
        Index("uq_notification_templates", "tenant_id", "kind", "event", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Delivery(Base):
    """One notification to one address through one channel, and what became of it."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("uq_deliveries_key", "key", unique=True),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_incident", "incident_id", "id"),
        Index("ix_deliveries_rate", "channel_id", "address", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    key: Mapped[str] = mapped_column(String(400))
    incident_id: Mapped[int | None] = mapped_column(BigId)
    channel_id: Mapped[int | None] = mapped_column(Integer)
    channel_kind: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(1000))
    event: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(200))  # a username, if a person
    #: pending, sending, sent, retrying, dead, cancelled, coalesced, skipped
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
