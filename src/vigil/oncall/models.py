"""On-call rows: people, how to reach them, teams, services, schedules, escalation
policies, and each incident's escalation state. Definitions that the pure cores read
(schedules, policies) are stored as their validated JSON form."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, BigId, JSONType, UTCDateTime


class ContactMethod(Base):
    __tablename__ = "contact_methods"
    __table_args__ = (Index("ix_contact_methods_user", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))  # email sms voice slack teams webhook
    address: Mapped[str] = mapped_column(String(1000))
    label: Mapped[str] = mapped_column(String(100), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NotificationRule(Base):
    """A step of a person's own chain: this contact method, this long after a page."""

    __tablename__ = "notification_rules"
    __table_args__ = (Index("ix_notification_rules_user", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    contact_method_id: Mapped[int] = mapped_column(
        ForeignKey("contact_methods.id", ondelete="CASCADE"))
    urgency: Mapped[str] = mapped_column(String(8))  # high | low
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (Index("uq_teams_tenant_name", "tenant_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Usernames.
    members: Mapped[list[str]] = mapped_column(JSONType)
    escalation_policy: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (Index("uq_services_tenant_name", "tenant_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    team: Mapped[str | None] = mapped_column(String(200))
    escalation_policy: Mapped[str | None] = mapped_column(String(200))
    runbook_links: Mapped[list[dict[str, str]]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScheduleRow(Base):
    """``definition`` is the schedule's dict form (``oncall.validation.parse_schedule``),
    overrides and swaps included."""

    __tablename__ = "schedules"
    __table_args__ = (Index("uq_schedules_tenant_name", "tenant_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    ical_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EscalationPolicyRow(Base):
    """``definition`` is the policy's dict form (``oncall.escalation_parse.parse_policy``)."""

    __tablename__ = "escalation_policies"
    __table_args__ = (
        Index("uq_escalation_policies_tenant_name", "tenant_id", "name", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Escalation(Base):
    """An incident's escalation: its policy and durable state; ``next_at`` is when the tick
    must look at it again (None: nothing more is due)."""

    __tablename__ = "escalations"
    __table_args__ = (
        Index("uq_escalations_incident", "incident_id", unique=True),
        Index("ix_escalations_next_at", "next_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    incident_id: Mapped[int] = mapped_column(BigId)
    policy: Mapped[str] = mapped_column(String(200))
    #: A one-off policy (a direct page), used instead of the named one.
    inline_policy: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16))
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

