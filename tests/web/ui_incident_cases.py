"""What the incident page tests post and read back: Alertmanager payloads (``am``,
``alert``) and the incidents as the JSON API lists them (``api_incidents``, ``by_title``)."""

from __future__ import annotations

from typing import Any

from conftest import Harness


def am(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "alerts": list(alerts)}


def alert(name: str, status: str = "firing", *, service: str = "checkout",
          severity: str = "warning", summary: str | None = None,
          **labels: str) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, "service": service,
                                         "severity": severity, **labels},
            "annotations": {"summary": summary or f"{name} on {service}"},
            "generatorURL": "https://prometheus.example/graph?g0.expr=up"}


def api_incidents(h: Harness, **params: Any) -> list[dict[str, Any]]:
    resp = h.client.get("/api/v1/incidents", params=params, headers=h.auth)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def by_title(h: Harness) -> dict[str, dict[str, Any]]:
    return {i["title"]: i for i in api_incidents(h)}

