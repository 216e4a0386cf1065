"""Keeps raw event history from growing forever: deletes it past the retention period."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from vigil.alerts.models import AlertEventRecord
from vigil.db import Database


def purge_events(db: Database, *, now: datetime, retention_days: int, chunk: int = 5000) -> int:
    """Delete raw events older than the retention period, in chunks so no single
    transaction holds the writer for long. Returns how many rows went."""
    cutoff = now - timedelta(days=retention_days)
    total = 0
    while True:
        with db.write() as s:
            ids = list(s.scalars(
                select(AlertEventRecord.id).where(AlertEventRecord.received_at < cutoff)
                .order_by(AlertEventRecord.id).limit(chunk)
            ))
            if not ids:
                return total
            s.execute(delete(AlertEventRecord).where(AlertEventRecord.id.in_(ids)))
        total += len(ids)
