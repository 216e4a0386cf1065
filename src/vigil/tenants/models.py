from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, UTCDateTime

DEFAULT_TENANT_ID = 1


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The last incident number given out (INC-1, INC-2, ...).
    incident_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
