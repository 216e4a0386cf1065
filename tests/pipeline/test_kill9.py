"""Accepted means durable: a server killed with SIGKILL mid-stream keeps every alert it
answered 2xx for."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from sqlalchemy import select

from server import start_server
from vigil.alerts.models import Alert
from vigil.db import Database


def test_every_acknowledged_alert_survives_kill_9(db_url: str, tmp_path: Path) -> None:
    server = start_server(db_url, tmp_path)
    assert server.integration_key
    endpoint = f"{server.url}/api/v1/ingest/alertmanager/{server.integration_key}"
    accepted: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()

    def sender(worker: int) -> None:
        with httpx.Client(timeout=5) as client:
            for i in range(100_000):
                if stop.is_set():
                    return
                payload = {"version": "4", "status": "firing", "alerts": [
                    {"status": "firing", "labels": {"alertname": "KillTest", "worker": str(worker),
                                                    "n": str(i)}, "annotations": {}}
                    for _ in range(1)]}
                try:
                    resp = client.post(endpoint, json=payload)
                except httpx.TransportError:
                    return  # the server is gone
                if resp.status_code == 202:
                    fps = [a["fingerprint"] for a in resp.json()["alerts"]]
                    with lock:
                        accepted.extend(fps)
                        if len(accepted) >= 300:
                            enough.set()

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    assert enough.wait(60), server.log.read_text()
    server.kill()  # SIGKILL while the senders are still sending
    stop.set()
    for t in threads:
        t.join(10)

    # Restart on the same database: it recovers, and every 2xx'd alert is there.
    again = start_server(db_url, tmp_path)
    try:
        listed = httpx.get(f"{again.url}/api/v1/alerts", params={"limit": 1},
                           headers={"Authorization": f"Bearer {server.api_key}"})
        assert listed.status_code == 200
        db = Database(db_url)
        try:
            with db.read() as s:
                stored = set(s.scalars(select(Alert.fingerprint)))
        finally:
            db.dispose()
    finally:
        again.kill()
    missing = [fp for fp in accepted if fp not in stored]
    assert len(accepted) >= 300
    assert missing == []
