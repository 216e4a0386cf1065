from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, JSONType, UTCDateTime


class CorrelationRule(Base):
    """A rule that turns matching alerts into incidents (see ``correlation.routing``)."""

    __tablename__ = "correlation_rules"
    __table_args__ = (
        Index("uq_correlation_rules_tenant_name", "tenant_id", "name", unique=True),
        # Ids are never reused: a group key names its rule by id.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    condition: Mapped[str] = mapped_column(Text, default="")
    group_by: Mapped[list[str]] = mapped_column(JSONType)
    window_minutes: Mapped[float] = mapped_column(Float, default=10.0)
    create_on: Mapped[str] = mapped_column(String(8), default="any")
    threshold_alerts: Mapped[int] = mapped_column(Integer, default=1)
    threshold_occurrences: Mapped[int] = mapped_column(Integer, default=1)
    resolve_on: Mapped[str] = mapped_column(String(8), default="all")
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    title_template: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[str | None] = mapped_column(String(2))
    category: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
