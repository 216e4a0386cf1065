"""Firing alerts at a live server for the browser tests."""

from __future__ import annotations

import httpx

from server import Server


def fire(server: Server, name: str, **labels: str) -> None:
    assert server.integration_key is not None
    body = {"version": "4", "status": "firing", "alerts": [{
        "status": "firing", "labels": {"alertname": name, "severity": "critical",
                                       "service": "checkout", **labels},
        "annotations": {"summary": f"{name} on checkout"}}]}
    resp = httpx.post(f"{server.url}/api/v1/ingest/alertmanager/{server.integration_key}",
                      json=body, timeout=10)
    assert resp.status_code == 202, resp.text
