"""Two Vigil processes over one PostgreSQL, ingesting alerts of one group at the same
moment, open exactly one incident and never one alert twice."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from conftest import need_postgres
from server import start_server
from vigil.alerts.models import Alert
from vigil.db import Database
from vigil.incidents.models import Incident


@pytest.mark.postgres
def test_two_nodes_open_one_incident_for_one_group(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("two nodes share PostgreSQL; SQLite is one node")
    need_postgres()
    a = start_server(db_url, tmp_path)
    b = start_server(db_url, tmp_path)
    try:
        assert a.integration_key
        barrier = threading.Barrier(8)
        codes: list[int] = []

        def send(node: str, worker: int) -> None:
            with httpx.Client(timeout=30) as client:
                barrier.wait()
                for round_ in range(5):
                    alerts = [{"status": "firing",
                               "labels": {"alertname": "DatabaseDown", "service": "db",
                                          "instance": f"db-{(worker * 7 + round_ + i) % 12}"},
                               "annotations": {"summary": "database down"}}
                              for i in range(3)]
                    resp = client.post(
                        f"{node}/api/v1/ingest/alertmanager/{a.integration_key}",
                        json={"version": "4", "status": "firing", "alerts": alerts})
                    codes.append(resp.status_code)

        threads = [threading.Thread(target=send, args=((a.url, b.url)[w % 2], w))
                   for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert codes == [202] * 40
    finally:
        a.kill(signal.SIGTERM)
        b.kill(signal.SIGTERM)
    db = Database(db_url)
    try:
        with db.read() as s:
            incidents = [(i.alert_count, i.number) for i in s.scalars(select(Incident))]
            alerts = s.scalar(select(func.count(Alert.id)))
            instances = s.scalar(select(func.count(func.distinct(Alert.fingerprint))))
    finally:
        db.dispose()
    assert len(incidents) == 1
    assert alerts == instances == 12  # each instance opened once, across both nodes
    assert incidents == [(12, 1)]
