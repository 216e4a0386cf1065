"""An integration key acts on its own integration's alerts only: another integration's
alert is a 404 (Opsgenie by id/tiny), or untouched (Opsgenie by alias, PagerDuty by
dedup_key), on real SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from conftest import Harness
from vigil.integrations.service import create_integration
from vigil.tenants.models import DEFAULT_TENANT_ID


def second_key(h: Harness, kind: str) -> str:
    with h.ctx.db.write() as s:
        _, key = create_integration(s, tenant_id=DEFAULT_TENANT_ID, name=f"{kind} other",
                                    type=kind, now=h.clock.now())
        return key


def statuses(h: Harness) -> dict[str, str]:
    return {a["dedup_key"]: a["status"] for a in h.alerts()}


def genie(key: str) -> dict[str, str]:
    return {"Authorization": f"GenieKey {key}"}


def test_opsgenie_key_cannot_act_on_another_integrations_alert_by_id(vigil: Harness) -> None:
    other = second_key(vigil, "opsgenie")
    made = vigil.client.post("/v2/alerts", json={"message": "Disk full", "alias": "disk"},
                             headers=genie(vigil.keys["opsgenie"]))
    assert made.status_code == 202, made.text
    (alert,) = vigil.alerts()
    for path in (f"/v2/alerts/{alert['id']}/close",
                 f"/v2/alerts/{alert['id']}/acknowledge",
                 f"/api/v1/ingest/opsgenie/v2/alerts/{alert['id']}/close"):
        for kind in ("id", "tiny"):
            resp = vigil.client.post(path, params={"identifierType": kind},
                                     headers=genie(other))
            assert resp.status_code == 404, (path, kind, resp.text)
            assert str(alert["id"]) in resp.json()["message"]
    assert statuses(vigil) == {"disk": "firing"}
    # An id that exists nowhere reads the same as another integration's.
    missing = vigil.client.post("/v2/alerts/999999/close", params={"identifierType": "id"},
                                headers=genie(other))
    assert missing.status_code == 404
    # The owning key still can, by id and by tiny.
    own = genie(vigil.keys["opsgenie"])
    ack = vigil.client.post(f"/v2/alerts/{alert['id']}/acknowledge",
                            params={"identifierType": "tiny"}, headers=own)
    assert ack.status_code == 202, ack.text
    assert statuses(vigil) == {"disk": "acknowledged"}
    close = vigil.client.post(f"/v2/alerts/{alert['id']}/close",
                              params={"identifierType": "id"}, headers=own)
    assert close.status_code == 202, close.text
    assert statuses(vigil) == {"disk": "resolved"}


def test_opsgenie_key_cannot_act_on_an_alert_of_another_type(vigil: Harness) -> None:
    vigil.client.post("/v2/enqueue", json={
        "routing_key": vigil.keys["pagerduty"], "event_action": "trigger", "dedup_key": "pd-1",
        "payload": {"summary": "CPU", "source": "web-1", "severity": "critical"}})
    (alert,) = vigil.alerts()
    resp = vigil.client.post(f"/v2/alerts/{alert['id']}/close",
                             params={"identifierType": "id"},
                             headers=genie(vigil.keys["opsgenie"]))
    assert resp.status_code == 404
    assert statuses(vigil) == {"pd-1": "firing"}


def test_opsgenie_alias_acts_on_own_integration_only(vigil: Harness) -> None:
    other = second_key(vigil, "opsgenie")
    vigil.client.post("/v2/alerts", json={"message": "Disk full", "alias": "disk"},
                      headers=genie(vigil.keys["opsgenie"]))
    for action in ("acknowledge", "close"):
        resp = vigil.client.post(f"/v2/alerts/disk/{action}",
                                 params={"identifierType": "alias"}, headers=genie(other))
        assert resp.status_code == 202
    assert statuses(vigil) == {"disk": "firing"}


def pd(key: str, action: str, dedup: str) -> dict[str, Any]:
    body: dict[str, Any] = {"routing_key": key, "event_action": action, "dedup_key": dedup}
    if action == "trigger":
        body["payload"] = {"summary": "CPU high", "source": "web-1", "severity": "critical"}
    return body


def test_pagerduty_acknowledge_and_resolve_touch_own_integration_only(vigil: Harness) -> None:
    other = second_key(vigil, "pagerduty")
    assert vigil.client.post("/v2/enqueue", json=pd(vigil.keys["pagerduty"], "trigger",
                                                   "cpu")).status_code == 202
    for action in ("acknowledge", "resolve"):
        resp = vigil.client.post("/v2/enqueue", json=pd(other, action, "cpu"))
        assert resp.status_code == 202, resp.text
    assert statuses(vigil) == {"cpu": "firing"}
    assert vigil.client.post("/v2/enqueue", json=pd(vigil.keys["pagerduty"], "resolve",
                                                   "cpu")).status_code == 202
    assert statuses(vigil) == {"cpu": "resolved"}
