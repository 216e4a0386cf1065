"""Ingest over HTTP, on real SQLite and PostgreSQL: every source, dedup, and bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from conftest import Harness, fixture_path, make_harness
from vigil.alerts.models import Alert, AlertEventRecord
from vigil.clock import FakeClock
from vigil.outbox.models import OutboxEvent


def load(integration: str, name: str) -> Any:
    return json.loads(fixture_path(integration, name).read_text())


def count(h: Harness, model: Any) -> int:
    with h.ctx.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_alertmanager_group_creates_one_alert_per_entry_and_resends_are_idempotent(
    vigil: Harness,
) -> None:
    payload = load("alertmanager", "firing_group.json")
    first = vigil.post_alertmanager(payload)
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["accepted"] == len(payload["alerts"]) >= 2
    assert {a["outcome"] for a in body["alerts"]} == {"created"}
    ids = [a["id"] for a in body["alerts"]]

    vigil.clock.advance(seconds=30)
    again = vigil.post_alertmanager(payload).json()  # Alertmanager re-sends the whole group
    assert [a["id"] for a in again["alerts"]] == ids
    assert {a["outcome"] for a in again["alerts"]} == {"redelivered"}
    alerts = vigil.alerts()
    assert len(alerts) == len(ids)
    assert {a["occurrences"] for a in alerts} == {1}
    assert count(vigil, AlertEventRecord) == 2 * len(ids)


def test_alertmanager_firing_then_resolved_then_firing_again_opens_a_new_alert(
    vigil: Harness,
) -> None:
    firing = load("alertmanager", "cycling_firing.json")
    resolved = load("alertmanager", "resolved.json")
    created = vigil.post_alertmanager(firing).json()["alerts"][0]
    done = vigil.post_alertmanager(resolved).json()["alerts"][0]
    assert done["id"] == created["id"]
    assert (done["outcome"], done["status"]) == ("resolved", "resolved")
    alert = vigil.client.get(f"/api/v1/alerts/{created['id']}", headers=vigil.auth).json()
    assert alert["status"] == "resolved"
    assert alert["ends_at"] is not None and alert["resolved_at"] is not None

    # Firing again after resolve is a new alert; it starts at a new time.
    refire = json.loads(json.dumps(firing))
    refire["alerts"][0]["startsAt"] = "2026-11-22T18:00:00Z"
    again = vigil.post_alertmanager(refire).json()["alerts"][0]
    assert again["outcome"] == "created" and again["id"] != created["id"]


@pytest.fixture
def vigil_alert_events(db_url: str, clock: FakeClock) -> Iterator[Harness]:
    yield from make_harness(db_url, clock, outbox_alert_events=True)


def test_outbox_rows_are_written_with_every_alert_change(vigil_alert_events: Harness) -> None:
    vigil = vigil_alert_events
    vigil.post_alertmanager(load("alertmanager", "cycling_firing.json"))
    vigil.post_alertmanager(load("alertmanager", "cycling_firing.json"))  # redelivery: no event
    vigil.post_alertmanager(load("alertmanager", "resolved.json"))
    with vigil.ctx.db.read() as s:
        rows = list(s.execute(select(OutboxEvent.topic, OutboxEvent.aggregate)
                              .order_by(OutboxEvent.id)))
        alert_id, incident_id = s.execute(select(Alert.id, Alert.incident_id)).one()
    assert [t for t, a in rows if a.startswith("alert:")] == ["alert.created", "alert.resolved"]
    assert {a for _, a in rows if a.startswith("alert:")} == {f"alert:{alert_id}"}
    assert [t for t, a in rows if a.startswith("incident:")] == [
        "incident.created", "incident.status_changed"]
    assert {a for _, a in rows if a.startswith("incident:")} == {f"incident:{incident_id}"}


def test_alert_events_stay_out_of_the_outbox_by_default(vigil: Harness) -> None:
    vigil.post_alertmanager(load("alertmanager", "cycling_firing.json"))
    vigil.post_alertmanager(load("alertmanager", "resolved.json"))
    with vigil.ctx.db.read() as s:
        topics = list(s.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id)))
    assert topics == ["incident.created", "incident.status_changed"]


def test_grafana_alerts_carry_their_links(vigil: Harness) -> None:
    payload = load("grafana", "firing.json")
    resp = vigil.client.post("/api/v1/ingest/grafana", json=payload,
                             params={"token": vigil.keys["grafana"]})
    assert resp.status_code == 202, resp.text
    alerts = vigil.alerts()
    assert len(alerts) == len(payload["alerts"])
    texts = {link["text"] for a in alerts for link in a["links"]}
    assert {"Dashboard", "Panel", "Silence in Grafana"} <= texts
    resolved = vigil.client.post("/api/v1/ingest/grafana", json=load("grafana", "resolved.json"),
                                 headers={"Authorization": f"Bearer {vigil.keys['grafana']}"})
    assert resolved.status_code == 202
    assert any(a["outcome"] == "resolved" for a in resolved.json()["alerts"])


def test_pagerduty_events_v2_trigger_acknowledge_resolve(vigil: Harness) -> None:
    trigger = load("pagerduty", "trigger.json")
    trigger["routing_key"] = vigil.keys["pagerduty"]
    resp = vigil.client.post("/v2/enqueue", json=trigger)
    assert resp.status_code == 202
    assert resp.json() == {"status": "success", "message": "Event processed",
                           "dedup_key": trigger["dedup_key"]}
    for action, status in (("acknowledge", "acknowledged"), ("resolve", "resolved")):
        ev = {"routing_key": vigil.keys["pagerduty"], "event_action": action,
              "dedup_key": trigger["dedup_key"]}
        assert vigil.client.post("/v2/enqueue", json=ev).status_code == 202
        (alert,) = vigil.alerts()
        assert alert["status"] == status
    assert alert["severity"] == {"critical": "critical", "error": "high", "warning": "warning",
                                 "info": "info"}[trigger["payload"]["severity"]]


def test_pagerduty_triggers_without_dedup_key_are_alerts_of_their_own(
    vigil: Harness,
) -> None:
    """As PagerDuty: each trigger without a key gets a new one, handed back in its answer
    (PagerDuty's shape), so two identical triggers are two alerts."""
    ev = {"routing_key": vigil.keys["pagerduty"], "event_action": "trigger",
          "payload": {"summary": "disk full on db-1", "source": "db-1", "severity": "error"}}
    answers = [vigil.client.post("/api/v1/ingest/pagerduty/v2/enqueue", json=ev),
               vigil.client.post("/v2/enqueue", json=ev)]
    keys = []
    for resp in answers:
        assert resp.status_code == 202
        body = resp.json()
        assert set(body) == {"status", "message", "dedup_key"}
        assert (body["status"], body["message"]) == ("success", "Event processed")
        assert len(body["dedup_key"]) == 32
        keys.append(body["dedup_key"])
    assert keys[0] != keys[1]
    alerts = vigil.alerts()
    assert sorted(a["dedup_key"] for a in alerts) == sorted(keys)
    assert [a["occurrences"] for a in alerts] == [1, 1]
    done = vigil.client.post("/v2/enqueue", json={"routing_key": vigil.keys["pagerduty"],
                                                  "event_action": "resolve",
                                                  "dedup_key": keys[0]})
    assert done.json() == {"status": "success", "message": "Event processed",
                           "dedup_key": keys[0]}
    assert {a["dedup_key"]: a["status"] for a in vigil.alerts()} == {
        keys[0]: "resolved", keys[1]: "firing"}


def test_pagerduty_invalid_event_answers_in_pagerduty_format(vigil: Harness) -> None:
    ev = {"routing_key": vigil.keys["pagerduty"], "event_action": "trigger",
          "payload": {"source": "db-1", "severity": "fatal"}}
    resp = vigil.client.post("/v2/enqueue", json=ev)
    assert resp.status_code == 400
    body = resp.json()
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert "'payload.summary' is missing or blank" in body["errors"]
    assert any(e.startswith("'payload.severity'") for e in body["errors"])
    unknown = vigil.client.post("/v2/enqueue", json={**ev, "routing_key": "0" * 32})
    assert unknown.status_code == 400
    assert count(vigil, Alert) == 0


def test_opsgenie_alias_dedups_with_count_and_closes_by_alias_or_id(vigil: Harness) -> None:
    headers = {"Authorization": f"GenieKey {vigil.keys['opsgenie']}"}
    create = load("opsgenie", "create.json")
    for _ in range(3):
        resp = vigil.client.post("/v2/alerts", json=create, headers=headers)
        assert resp.status_code == 202
        assert resp.json()["result"] == "Request will be processed"
    (alert,) = vigil.alerts()
    assert alert["occurrences"] == 3
    assert alert["dedup_key"] == create["alias"]
    alias = quote(create["alias"], safe="")  # as Opsgenie clients send it
    ack = vigil.client.post(f"/v2/alerts/{alias}/acknowledge",
                            params={"identifierType": "alias"}, json={"user": "alice"},
                            headers=headers)
    assert ack.status_code == 202
    assert vigil.alerts()[0]["status"] == "acknowledged"
    close = vigil.client.post(f"/api/v1/ingest/opsgenie/v2/alerts/{alert['id']}/close",
                              params={"identifierType": "id"}, headers=headers)
    assert close.status_code == 202
    assert vigil.alerts()[0]["status"] == "resolved"


def test_opsgenie_validation_error_is_422_naming_the_field(vigil: Harness) -> None:
    headers = {"Authorization": f"GenieKey {vigil.keys['opsgenie']}"}
    resp = vigil.client.post("/v2/alerts", json={"message": "x", "priority": "P9"},
                             headers=headers)
    assert resp.status_code == 422
    assert "priority" in resp.json()["errors"]
    bad_key = vigil.client.post("/v2/alerts", json={"message": "x"},
                                headers={"Authorization": "GenieKey nope"})
    assert bad_key.status_code == 401


def test_generic_webhook_maps_fields_by_configured_paths(vigil: Harness) -> None:
    created = vigil.client.post("/api/v1/integrations", headers=vigil.auth, json={
        "name": "datadog", "type": "generic",
        "config": {"title": "$.alert_title", "severity": "$.alert_type",
                   "dedup_key": "$.alert_cycle_key", "service": "$.host_name",
                   "status": "$.alert_transition", "resolve_values": ["Recovered"]},
    })
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    trig = load("generic", "datadog_triggered.json")
    resp = vigil.client.post(f"/api/v1/ingest/generic/{key}", json=trig)
    assert resp.status_code == 202, resp.text
    (alert,) = vigil.alerts()
    assert alert["name"] == trig["alert_title"]
    assert alert["dedup_key"] == trig["alert_cycle_key"]
    assert alert["service"] == trig["host_name"]
    rec = vigil.client.post(f"/api/v1/ingest/generic/{key}",
                            json=load("generic", "datadog_recovered.json"))
    assert rec.json()["alerts"][0]["outcome"] == "resolved"


def test_generic_array_is_one_batch(vigil: Harness) -> None:
    items = load("generic", "array_of_alerts.json")
    resp = vigil.client.post(f"/api/v1/ingest/generic/{vigil.keys['generic']}", json=items)
    assert resp.status_code == 202
    assert resp.json()["accepted"] == len(items)
    assert len(vigil.alerts()) == len(items)


def test_generic_config_with_bad_json_path_is_refused_at_save_time(vigil: Harness) -> None:
    resp = vigil.client.post("/api/v1/integrations", headers=vigil.auth, json={
        "name": "bad", "type": "generic", "config": {"title": "$.[[["}})
    assert resp.status_code == 422
    assert resp.json()["error"]["field"] == "config.title"


# --- bad input ------------------------------------------------------------------------------

def test_missing_and_unknown_integration_keys_are_401(vigil: Harness) -> None:
    payload = load("alertmanager", "firing_single.json")
    missing = vigil.client.post("/api/v1/ingest/alertmanager", json=payload)
    assert missing.status_code == 401
    assert missing.json()["error"]["field"] == "token"
    unknown = vigil.client.post("/api/v1/ingest/alertmanager/deadbeef", json=payload)
    assert unknown.status_code == 401


def test_revoked_integration_key_stops_working(vigil: Harness) -> None:
    iid = vigil.integration_ids["alertmanager"]
    assert vigil.client.delete(f"/api/v1/integrations/{iid}", headers=vigil.auth).status_code == 200
    resp = vigil.post_alertmanager(load("alertmanager", "firing_single.json"))
    assert resp.status_code == 401


def test_key_of_another_type_is_refused(vigil: Harness) -> None:
    resp = vigil.client.post(f"/api/v1/ingest/alertmanager/{vigil.keys['grafana']}",
                             json=load("alertmanager", "firing_single.json"))
    assert resp.status_code == 422
    assert "grafana" in resp.json()["error"]["message"]


def test_unknown_integration_type_is_404(vigil: Harness) -> None:
    resp = vigil.client.post(f"/api/v1/ingest/zabbix/{vigil.keys['generic']}", json={})
    assert resp.status_code == 404


def test_malformed_json_is_400_naming_the_body(vigil: Harness) -> None:
    resp = vigil.client.post(f"/api/v1/ingest/alertmanager/{vigil.keys['alertmanager']}",
                             content=b'{"alerts": [', headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"]["field"] == "body"
    empty = vigil.client.post(f"/api/v1/ingest/alertmanager/{vigil.keys['alertmanager']}")
    assert empty.status_code == 400


def test_one_bad_alert_refuses_the_whole_batch(vigil: Harness) -> None:
    payload = load("alertmanager", "firing_group.json")
    payload["alerts"][1]["labels"] = "not a map"
    resp = vigil.post_alertmanager(payload)
    assert resp.status_code == 422
    assert resp.json()["error"]["field"] == "alerts[1].labels"
    assert count(vigil, Alert) == 0
    assert count(vigil, AlertEventRecord) == 0


def test_oversized_body_is_413(db_url: str, clock: Any) -> None:
    from conftest import make_harness

    for h in make_harness(db_url, clock, max_body_bytes=2048):
        payload = load("alertmanager", "firing_group.json")
        payload["alerts"][0]["annotations"]["description"] = "x" * 5000
        resp = h.post_alertmanager(payload)
        assert resp.status_code == 413
        assert resp.json()["error"]["field"] == "body"
        # streamed without a Content-Length, too
        chunks = iter([json.dumps(payload).encode()[i:i + 1000] for i in range(0, 6000, 1000)])
        streamed = h.client.post(f"/api/v1/ingest/alertmanager/{h.keys['alertmanager']}",
                                 content=chunks)
        assert streamed.status_code == 413
        assert count(h, Alert) == 0


def test_json_nested_too_deeply_to_store_is_refused_not_a_poison_message(
    vigil: Harness,
) -> None:
    deep: Any = "leaf"
    for _ in range(300):
        deep = [deep]
    payload = load("alertmanager", "firing_group.json")
    payload["alerts"][1]["extra"] = deep  # kept in the alert's raw payload
    resp = vigil.post_alertmanager(payload)
    assert resp.status_code == 400
    assert resp.json()["error"]["field"] == "body"
    assert count(vigil, Alert) == 0  # nothing of it applied
    assert vigil.post_alertmanager(load("alertmanager", "firing_single.json")).status_code == 202
    assert count(vigil, Alert) == 1


@pytest.mark.parametrize(("kind", "fixture", "other"), [
    ("alertmanager", "firing_group.json", "3"), ("grafana", "firing.json", "4")])
def test_a_webhook_payload_version_vigil_does_not_read_is_422_naming_version(
    vigil: Harness, kind: str, fixture: str, other: str,
) -> None:
    payload = load(kind, fixture)
    payload["version"] = other
    resp = vigil.client.post(f"/api/v1/ingest/{kind}/{vigil.keys[kind]}", json=payload)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["field"] == "version" and repr(other) in error["message"]
    assert count(vigil, Alert) == 0 and count(vigil, AlertEventRecord) == 0
    del payload["version"]  # absent: read as the version Vigil knows
    assert vigil.client.post(f"/api/v1/ingest/{kind}/{vigil.keys[kind]}",
                             json=payload).status_code == 202


@pytest.mark.parametrize("kind", ["alertmanager", "grafana", "generic"])
def test_every_keyless_form_of_the_webhook_urls_is_401_naming_the_key(
    vigil: Harness, kind: str,
) -> None:
    """Not a 307 to the URL without the slash, nor a 404: the sender is told what is
    missing, whichever way its URL is written."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from starlette.types import Receive, Scope, Send

    async def behind_fast_path(scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(vigil.client.app, scope, receive, send)  # type: ignore[arg-type]

    payload = load("alertmanager", "firing_single.json")
    del payload["version"]  # (read as each kind's own)
    # The app's ingest fast path, and the framework's routes behind it (the same answers).
    framework = TestClient(behind_fast_path)
    for client in (vigil.client, framework):
        for path, headers in [(f"/api/v1/ingest/{kind}", {}), (f"/api/v1/ingest/{kind}/", {}),
                              (f"/api/v1/ingest/{kind}?token=", {}),
                              (f"/api/v1/ingest/{kind}/?token=", {}),
                              (f"/api/v1/ingest/{kind}", {"Authorization": "Bearer "}),
                              (f"/api/v1/ingest/{kind}/", {"Authorization": "Basic eDp5"})]:
            resp = client.post(path, json=payload, headers=headers, follow_redirects=False)
            assert resp.status_code == 401, (path, headers, resp.status_code, resp.text)
            error = resp.json()["error"]
            assert error["field"] == "token"
            assert error["message"].startswith("an integration key is required")
            assert resp.headers["www-authenticate"] == "Bearer"
    # ... and with the key, the trailing slash is no different
    ok = vigil.client.post(f"/api/v1/ingest/{kind}/", json=payload,
                           headers={"Authorization": f"Bearer {vigil.keys[kind]}"},
                           follow_redirects=False)
    assert ok.status_code == (202 if kind != "generic" else 422)  # (generic: no title)
    assert count(vigil, Alert) == (1 if kind != "generic" else 0)


def _incident_rows(h: Harness) -> list[tuple[int, str]]:
    from vigil.incidents.models import Incident

    with h.ctx.db.read() as s:
        return [(i, st) for i, st in s.execute(select(Incident.id, Incident.status)
                                                .order_by(Incident.id))]


def _topics(h: Harness) -> list[str]:
    with h.ctx.db.read() as s:
        return list(s.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id)))


@pytest.mark.parametrize("kind", ["alertmanager", "grafana"])
def test_a_stale_resend_of_a_resolved_alert_opens_nothing_and_pages_nobody(
    vigil: Harness, kind: str,
) -> None:
    """An HA Alertmanager peer (or a group re-send) delivering the old firing notification
    after the alert resolved: Alertmanager's identity is fingerprint plus startsAt."""
    firing = load("alertmanager", "cycling_firing.json")
    resolved = load("alertmanager", "resolved.json")
    if kind == "grafana":
        for p in (firing, resolved):
            p["version"] = "1"
    url = f"/api/v1/ingest/{kind}/{vigil.keys[kind]}"
    created = vigil.client.post(url, json=firing).json()["alerts"][0]
    vigil.clock.advance(seconds=30)
    assert vigil.client.post(url, json=resolved).json()["alerts"][0]["outcome"] == "resolved"
    incidents, topics = _incident_rows(vigil), _topics(vigil)
    assert [st for _, st in incidents] == ["resolved"]

    for late in (5, 40 * 60):  # seconds: in, then past, the incident's reopen window
        vigil.clock.advance(seconds=late)
        stale = vigil.client.post(url, json=firing)
        assert stale.status_code == 202
        assert stale.json()["alerts"] == [{"id": created["id"], "fingerprint":
                                           created["fingerprint"], "outcome": "ignored",
                                           "status": "resolved"}]
        (alert,) = vigil.alerts()
        assert (alert["status"], alert["occurrences"]) == ("resolved", 1)
        assert _incident_rows(vigil) == incidents  # nothing reopened, nothing new ...
        assert _topics(vigil) == topics  # ... and nobody paged
    detail = vigil.client.get(f"/api/v1/alerts/{created['id']}", headers=vigil.auth).json()
    assert [e["outcome"] for e in detail["events"]] == [
        "ignored", "ignored", "resolved", "created"]  # (newest first)

    # An older instance's notification is stale too; a new startsAt is a new alert.
    older = json.loads(json.dumps(firing))
    older["alerts"][0]["startsAt"] = "2026-11-22T17:00:00Z"
    assert vigil.client.post(url, json=older).json()["alerts"][0]["outcome"] == "ignored"
    refire = json.loads(json.dumps(firing))
    refire["alerts"][0]["startsAt"] = "2026-11-22T18:00:00Z"
    again = vigil.client.post(url, json=refire).json()["alerts"][0]
    assert again["outcome"] == "created" and again["id"] != created["id"]
    assert [st for _, st in _incident_rows(vigil)] == ["resolved", "firing"]
    # ... whose own re-send is a redelivery, as before
    assert vigil.client.post(url, json=refire).json()["alerts"][0]["outcome"] == "redelivered"


def test_a_resend_after_the_alert_was_resolved_by_hand_fires_again(vigil: Harness) -> None:
    """A person resolving an alert that still fires at the source: Alertmanager's next
    re-send (same startsAt) is an alert again, not a stale one."""
    firing = load("alertmanager", "cycling_firing.json")
    created = vigil.post_alertmanager(firing).json()["alerts"][0]
    done = vigil.client.post(f"/api/v1/alerts/{created['id']}/resolve", headers=vigil.auth)
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    again = vigil.post_alertmanager(firing).json()["alerts"][0]
    assert again["outcome"] == "created" and again["id"] != created["id"]
