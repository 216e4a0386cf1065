"""Driving incidents through the API in tests: raise Alertmanager alerts, list, read and
act on incidents."""

from __future__ import annotations

from typing import Any

from conftest import Harness


def am(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "alerts": list(alerts)}


def alert(name: str, status: str = "firing", *, service: str = "checkout",
          severity: str = "warning", **labels: str) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, "service": service,
                                         "severity": severity, **labels},
            "annotations": {"summary": f"{name} on {service}"}}


def incidents(h: Harness, **params: Any) -> list[dict[str, Any]]:
    resp = h.client.get("/api/v1/incidents", params=params, headers=h.auth)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def detail(h: Harness, incident_id: int) -> dict[str, Any]:
    resp = h.client.get(f"/api/v1/incidents/{incident_id}", headers=h.auth)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def act(h: Harness, incident_id: int, action: str, **body: Any) -> Any:
    return h.client.post(f"/api/v1/incidents/{incident_id}/{action}", headers=h.auth,
                         json=body or None)
