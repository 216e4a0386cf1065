"""One row per topic of configuration: its version, raised in the transaction that changes
it (``configstate.signal.changed``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, UTCDateTime


class ConfigVersion(Base):
    __tablename__ = "config_versions"

    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
