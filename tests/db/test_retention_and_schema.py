"""Raw history retention, and the migrations matching the models on both databases."""

from __future__ import annotations

from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from conftest import Harness
from vigil.alerts.models import Alert, AlertEventRecord
from vigil.db import Base, Database
from vigil.worker.retention import purge_events


def _events(h: Harness) -> int:
    with h.ctx.db.read() as s:
        return int(s.scalar(select(func.count(AlertEventRecord.id))) or 0)


def test_raw_events_older_than_retention_are_purged_alerts_stay(vigil: Harness) -> None:
    payload = {"alerts": [{"status": "firing", "labels": {"alertname": "Old"}}]}
    vigil.post_alertmanager(payload)
    vigil.clock.advance(days=20)
    vigil.post_alertmanager({"alerts": [{"status": "firing", "labels": {"alertname": "New"}}]})
    assert _events(vigil) == 2
    removed = purge_events(vigil.ctx.db, now=vigil.clock.now() + timedelta(days=11),
                           retention_days=30, chunk=1)
    assert removed == 1
    assert _events(vigil) == 1
    with vigil.ctx.db.read() as s:
        assert s.scalar(select(func.count(Alert.id))) == 2
    assert purge_events(vigil.ctx.db, now=vigil.clock.now(), retention_days=30) == 0


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
