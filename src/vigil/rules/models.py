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
