"""Reading and acting on alerts through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from conftest import Harness


def am(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "alerts": alerts}


def firing(name: str, *, severity: str = "warning", service: str = "api",
           env: str = "prod", summary: str = "", **labels: str) -> dict[str, Any]:
    return {"status": "firing",
            "labels": {"alertname": name, "severity": severity, "service": service,
                       "env": env, **labels},
            "annotations": {"summary": summary or f"{name} on {service}"}}


def seed(h: Harness) -> None:
    h.post_alertmanager(am([firing("HighLatency", severity="critical", service="checkout")]))
    h.clock.advance(minutes=1)
    h.post_alertmanager(am([firing("DiskFull", service="db", env="staging",
                                   summary="disk /var is 95% full")]))
    h.clock.advance(minutes=1)
    h.post_alertmanager(am([firing("CertExpiry", severity="info", service="edge")]))


def names(items: list[dict[str, Any]]) -> list[str]:
    return [a["name"] for a in items]


def test_list_is_newest_first_and_filters(vigil: Harness) -> None:
    seed(vigil)
    assert names(vigil.alerts()) == ["CertExpiry", "DiskFull", "HighLatency"]
    assert names(vigil.alerts(severity="critical")) == ["HighLatency"]
    assert names(vigil.alerts(severity=["critical", "info"])) == ["CertExpiry", "HighLatency"]
    assert names(vigil.alerts(service="db")) == ["DiskFull"]
    assert names(vigil.alerts(label="env=staging")) == ["DiskFull"]
    assert names(vigil.alerts(q="95%")) == ["DiskFull"]
    assert names(vigil.alerts(q="disk")) == ["DiskFull"]
    since = "2026-03-01T12:01:00+00:00"
    assert names(vigil.alerts(since=since)) == ["CertExpiry", "DiskFull"]
    assert names(vigil.alerts(until=since)) == ["HighLatency"]
    assert names(vigil.alerts(sort="severity")) == ["CertExpiry", "DiskFull", "HighLatency"]
    assert names(vigil.alerts(sort="-severity")) == ["HighLatency", "DiskFull", "CertExpiry"]


def test_cursor_pagination_walks_every_alert_once(vigil: Harness) -> None:
    batch = [firing(f"A{i}", instance=str(i)) for i in range(23)]
    vigil.post_alertmanager(am(batch[:10]))
    vigil.clock.advance(seconds=1)
    vigil.post_alertmanager(am(batch[10:]))
    for sort in ("-last_received_at", "last_received_at", "-id", "severity"):
        seen: list[int] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 5, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            body = vigil.client.get("/api/v1/alerts", params=params, headers=vigil.auth).json()
            seen += [a["id"] for a in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 23 == len(set(seen)), sort
        assert pages == 5


def test_status_filter_and_actions(vigil: Harness) -> None:
    seed(vigil)
    first = vigil.alerts(q="HighLatency")[0]
    resp = vigil.client.post(f"/api/v1/alerts/{first['id']}/acknowledge", headers=vigil.auth,
                             json={"note": "looking"})
    assert resp.status_code == 200, resp.text
    detail = resp.json()
    assert detail["status"] == "acknowledged"
    assert detail["acknowledged_by"] == "apikey:test admin"
    assert [e["action"] for e in detail["events"]] == ["acknowledge", "trigger"]
    assert names(vigil.alerts(status="acknowledged")) == ["HighLatency"]
    assert names(vigil.alerts(status="firing")) == ["CertExpiry", "DiskFull"]

    done = vigil.client.post(f"/api/v1/alerts/{first['id']}/resolve", headers=vigil.auth)
    assert done.json()["status"] == "resolved"
    again = vigil.client.post(f"/api/v1/alerts/{first['id']}/acknowledge", headers=vigil.auth)
    assert again.status_code == 409
    assert "resolved" in again.json()["error"]["message"]


def test_detail_has_raw_payload_and_event_history(vigil: Harness) -> None:
    vigil.post_alertmanager(am([firing("X")]))
    vigil.clock.advance(seconds=10)
    vigil.post_alertmanager(am([firing("X")]))
    (alert,) = vigil.alerts()
    detail = vigil.client.get(f"/api/v1/alerts/{alert['id']}", headers=vigil.auth).json()
    assert detail["raw"]["labels"]["alertname"] == "X"
    assert [e["outcome"] for e in detail["events"]] == ["deduplicated", "created"]
    assert detail["occurrences"] == 2


def test_bad_query_parameters_are_422_naming_the_field(vigil: Harness) -> None:
    cases = {
        "status": {"status": "exploded"},
        "severity": {"severity": "meh"},
        "sort": {"sort": "colour"},
        "cursor": {"cursor": "!!notacursor"},
        "label": {"label": "no-equals"},
        "limit": {"limit": 0},
        "since": {"since": "yesterday"},
    }
    for fld, params in cases.items():
        resp = vigil.client.get("/api/v1/alerts", params=params, headers=vigil.auth)
        assert resp.status_code == 422, (fld, resp.text)
        assert resp.json()["error"]["field"] == fld


def test_unknown_alert_is_404(vigil: Harness) -> None:
    assert vigil.client.get("/api/v1/alerts/999", headers=vigil.auth).status_code == 404
    resp = vigil.client.post("/api/v1/alerts/999/resolve", headers=vigil.auth)
    assert resp.status_code == 404


def test_roles_are_enforced(vigil: Harness) -> None:
    vigil.post_alertmanager(am([firing("X")]))
    (alert,) = vigil.alerts()
    viewer = {"Authorization": f"Bearer {vigil.key_for('viewer')}"}
    responder = {"Authorization": f"Bearer {vigil.key_for('responder')}"}
    assert vigil.client.get("/api/v1/alerts", headers=viewer).status_code == 200
    denied = vigil.client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=viewer)
    assert denied.status_code == 403
    ok = vigil.client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=responder)
    assert ok.status_code == 200
    assert vigil.client.get("/api/v1/api-keys", headers=responder).status_code == 403
    assert vigil.client.get("/api/v1/alerts").status_code == 401
    bad = vigil.client.get("/api/v1/alerts", headers={"Authorization": "Bearer vgl_nope"})
    assert bad.status_code == 401


def test_api_keys_can_be_created_listed_and_revoked(vigil: Harness) -> None:
    made = vigil.client.post("/api/v1/api-keys", headers=vigil.auth,
                             json={"name": "grafana bot", "role": "viewer"})
    assert made.status_code == 201
    key = made.json()
    assert key["key"].startswith("vgl_")
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert vigil.client.get("/api/v1/alerts", headers=headers).status_code == 200
    listed = vigil.client.get("/api/v1/api-keys", headers=vigil.auth).json()
    assert "key" not in listed[0] and {k["name"] for k in listed} >= {"grafana bot"}
    assert vigil.client.delete(f"/api/v1/api-keys/{key['id']}", headers=vigil.auth).status_code \
        == 200
    assert vigil.client.get("/api/v1/alerts", headers=headers).status_code == 401
    bad_role = vigil.client.post("/api/v1/api-keys", headers=vigil.auth,
                                 json={"name": "x", "role": "god"})
    assert bad_role.status_code == 422
    assert bad_role.json()["error"]["field"] == "role"


def test_integrations_show_their_url_and_last_received(vigil: Harness) -> None:
    vigil.post_alertmanager(am([firing("X")]))
    items = vigil.client.get("/api/v1/integrations", headers=vigil.auth).json()
    am_integ = next(i for i in items if i["type"] == "alertmanager")
    assert am_integ["url"].endswith("/api/v1/ingest/alertmanager")
    assert "key" not in am_integ and am_integ["key_hint"] == vigil.keys["alertmanager"][-4:]
    assert am_integ["last_received_at"] == "2026-03-01T12:00:00Z"
    assert next(i for i in items if i["type"] == "grafana")["last_received_at"] is None


def test_system_endpoints(vigil: Harness) -> None:
    vigil.post_alertmanager(am([firing("X")]))
    vigil.post_alertmanager(am([firing("X")]))
    health = vigil.client.get("/health").json()
    assert (health["status"], health["database"], health["reasons"]) == ("ok", "ok", [])
    assert [c["name"] for c in health["consumers"]] == ["escalation", "delivery"]
    info = vigil.client.get("/system/info").json()
    assert info["database"]["dialect"] == vigil.ctx.db.dialect
    assert info["queue_depth"] == 0
    assert info["started_at"] == "2026-03-01T12:00:00+00:00"
    assert info["version"]
    metrics = vigil.client.get("/metrics").text
    assert 'vigil_alerts_received_total{outcome="created",source="alertmanager"} 1.0' in metrics
    assert "vigil_alerts_deduplicated_total 1.0" in metrics
    assert "vigil_pipeline_batch_size_count 2.0" in metrics
    assert "vigil_pipeline_commit_seconds_bucket" in metrics
    assert "vigil_pipeline_queue_depth 0.0" in metrics
    assert vigil.client.get("/docs").status_code == 200
    assert "/v2/enqueue" in vigil.client.get("/openapi.json").json()["paths"]
