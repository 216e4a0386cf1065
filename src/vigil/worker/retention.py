"""Keeps raw event history from growing forever: deletes it past the retention period."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from vigil.alerts.models import AlertEventRecord
from vigil.db import Database


def purge_events(db: Database, *, now: datetime, retention_days: int, chunk: int = 5000) -> int:
    """Delete raw events older than the retention period, in chunks so no single
    transaction holds the writer for long. Returns how many rows went.

    Events are appended in time order, so the first event (by id) inside the period is the
    boundary: everything before it goes. Once old rows are gone the boundary is found at
    the start of the table, so no index on the time is needed on the ingest path."""
    cutoff = now - timedelta(days=retention_days)
    with db.read() as s:
        boundary = s.scalar(
            select(AlertEventRecord.id).where(AlertEventRecord.received_at >= cutoff)
            .order_by(AlertEventRecord.id).limit(1)
        )
        if boundary is None:
            boundary = (s.scalar(select(func.max(AlertEventRecord.id))) or 0) + 1
    total = 0
    while True:
        with db.write() as s:
            ids = list(s.scalars(
                select(AlertEventRecord.id).where(AlertEventRecord.id < boundary)
                .order_by(AlertEventRecord.id).limit(chunk)
            ))
            if not ids:
                return total
            s.execute(delete(AlertEventRecord).where(AlertEventRecord.id.in_(ids)))
        total += len(ids)
