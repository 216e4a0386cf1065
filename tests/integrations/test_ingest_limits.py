"""Ingest limits (``VIGIL_INGEST_*``) on every inbound endpoint, on SQLite and PostgreSQL:
one field over its limit refuses the whole request with the field named, and stores
nothing; values exactly at the limits are accepted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Harness, fixture_path, make_harness
from vigil.clock import FakeClock


def load(integration: str, name: str) -> Any:
    return json.loads(fixture_path(integration, name).read_text())


def am_alert(i: int = 0, **labels: str) -> dict[str, Any]:
    return {"status": "firing", "labels": {"alertname": f"A{i}", "instance": f"h{i}", **labels},
            "annotations": {"summary": "s"}, "startsAt": "2026-03-01T11:59:00Z"}


def am(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "alerts": list(alerts)}


def post_am(h: Harness, payload: Any) -> Any:
    return h.client.post(f"/api/v1/ingest/alertmanager/{h.keys['alertmanager']}", json=payload)


def post_grafana(h: Harness, payload: Any) -> Any:
    return h.client.post(f"/api/v1/ingest/grafana/{h.keys['grafana']}", json=payload)


def post_generic(h: Harness, payload: Any) -> Any:
    return h.client.post(f"/api/v1/ingest/generic/{h.keys['generic']}", json=payload)


def pd_event(h: Harness, **payload: Any) -> dict[str, Any]:
    return {"routing_key": h.keys["pagerduty"], "event_action": "trigger",
            "payload": {"summary": "disk full", "source": "db1", "severity": "error",
                        **payload}}


def post_og(h: Harness, body: Any) -> Any:
    return h.client.post("/v2/alerts", json=body,
                         headers={"Authorization": f"GenieKey {h.keys['opsgenie']}"})


def refused(resp: Any, field: str, status: int = 422) -> None:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["field"] == field, err
    assert err["message"].startswith(f"{field}: ")
    assert "at most" in err["message"] and "VIGIL_INGEST_" in err["message"]


def many(n: int, value: str = "v") -> dict[str, str]:
    return {f"k{i}": value for i in range(n)}


# --- Alertmanager ------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "field"), [
    (lambda a: a["labels"].update(alertname="x" * 1_000_000), "alerts[1].labels.alertname"),
    (lambda a: a["labels"].update(alertname="x" * 1025), "alerts[1].labels.alertname"),
    (lambda a: a["labels"].update(many(20_000)), "alerts[1].labels"),
    (lambda a: a["labels"].update(many(127)), "alerts[1].labels"),
    (lambda a: a["labels"].update({"n" * 257: "v"}), "alerts[1].labels"),
    (lambda a: a["labels"].update(instance="v" * 4097), "alerts[1].labels.instance"),
    (lambda a: a["annotations"].update(summary="s" * 4097), "alerts[1].annotations.summary"),
    (lambda a: a["annotations"].update(description="d" * 32_769),
     "alerts[1].annotations.description"),
    (lambda a: a["annotations"].update(runbook="r" * 32_769), "alerts[1].annotations.runbook"),
    (lambda a: a["annotations"].update(many(128)), "alerts[1].annotations"),
    (lambda a: a["annotations"].update({"n" * 257: "v"}), "alerts[1].annotations"),
])
def test_alertmanager_alert_over_a_limit_refuses_the_whole_webhook(
    vigil: Harness, change: Any, field: str,
) -> None:
    bad = am_alert(1)
    change(bad)
    refused(post_am(vigil, am(am_alert(0), bad, am_alert(2))), field)
    assert vigil.alerts() == []


def test_alertmanager_webhook_with_too_many_alerts_is_refused(vigil: Harness) -> None:
    resp = post_am(vigil, am(*[am_alert(i) for i in range(1001)]))
    refused(resp, "alerts")
    assert "1001 alerts" in resp.json()["error"]["message"]
    assert vigil.alerts() == []


def test_alertmanager_values_exactly_at_the_limits_are_accepted(vigil: Harness) -> None:
    labels = {f"{i:03d}" + "n" * 253: "v" * 4096 for i in range(126)}
    labels["alertname"] = "a" * 400  # the name at its limit: see the test below
    labels["instance"] = "h"
    annotations = {f"{i:03d}" + "n" * 253: "w" * 32_768 for i in range(125)}
    # The summary at its limit has a test of its own (below).
    annotations |= {"summary": "s" * 512, "description": "d" * 32_768, "x": "y"}
    alert = {"status": "firing", "labels": labels, "annotations": annotations}
    assert len(labels) == len(annotations) == 128
    resp = post_am(vigil, am(alert))
    assert resp.status_code == 202, resp.text[:300]
    (stored,) = vigil.alerts()
    assert stored["summary"] == "s" * 512
    assert stored["labels"] == labels and stored["annotations"] == annotations

    resp = post_am(vigil, am(*[am_alert(i) for i in range(1000)]))
    assert resp.status_code == 202, resp.text[:300]
    assert resp.json()["accepted"] == 1000


@pytest.mark.parametrize("post", ["alertmanager", "generic"])
def test_name_and_summary_at_their_limits_are_accepted(vigil: Harness, post: str) -> None:
    """(An incident's title and group key are cut to their 512-character columns: on
    PostgreSQL a longer one used to fail the whole group commit.)"""
    if post == "alertmanager":
        alert = am_alert(0, alertname="a" * 1024)
        alert["annotations"]["summary"] = "s" * 4096
        resp = post_am(vigil, am(alert))
    else:
        resp = post_generic(vigil, {"title": "t" * 1024})
    assert resp.status_code == 202, resp.text[:300]
    (stored,) = vigil.alerts()
    assert len(stored["name"]) <= 512  # the stored name's width; the label is kept whole
    if post == "alertmanager":
        assert stored["labels"]["alertname"] == "a" * 1024
        assert stored["summary"] == "s" * 4096


def test_limits_are_settings(db_url: str, clock: FakeClock) -> None:
    for h in make_harness(db_url, clock, ingest_max_labels=3, ingest_max_alerts=2):
        assert post_am(h, am(am_alert(0, env="p"))).status_code == 202
        resp = post_am(h, am(am_alert(1, env="p", team="t")))
        refused(resp, "alerts[0].labels")
        assert "VIGIL_INGEST_MAX_LABELS" in resp.json()["error"]["message"]
        refused(post_am(h, am(am_alert(1), am_alert(2), am_alert(3))), "alerts")
        assert len(h.alerts()) == 1


# --- Grafana -------------------------------------------------------------------------------

def test_grafana_alert_over_a_limit_refuses_the_whole_webhook(vigil: Harness) -> None:
    payload = load("grafana", "firing.json")
    payload["alerts"].append({**payload["alerts"][0], "labels": many(129)})
    refused(post_grafana(vigil, payload), f"alerts[{len(payload['alerts']) - 1}].labels")
    payload["alerts"].pop()
    payload["alerts"][0]["valueString"] = "v" * 32_769
    refused(post_grafana(vigil, payload), "alerts[0].valueString")
    payload["alerts"][0]["valueString"] = "v" * 32_768
    assert post_grafana(vigil, {**payload, "alerts": [am_alert(i) for i in range(1001)]}
                        ).status_code == 422
    assert vigil.alerts() == []
    resp = post_grafana(vigil, payload)
    assert resp.status_code == 202, resp.text
    assert len(vigil.alerts()) == len(payload["alerts"])


# --- Generic webhook -----------------------------------------------------------------------

@pytest.mark.parametrize(("body", "field"), [
    ({"title": "t" * 1025}, "body.title"),
    ({"title": "t", "description": "d" * 32_769}, "body.description"),
    ({"title": "t", "labels": many(129)}, "body.labels"),
    ({"title": "t", "tags": ["x" * 257]}, "body.labels"),
    ({"title": "t", "labels": {"env": "e" * 4097}}, "body.labels.env"),
    ([{"title": "a"}, {"title": "b"}, {"title": "c", "labels": {"env": "e" * 4097}}],
     "[2].labels.env"),
    ([{"title": f"t{i}"} for i in range(1001)], "body"),
])
def test_generic_over_a_limit_is_refused(vigil: Harness, body: Any, field: str) -> None:
    refused(post_generic(vigil, body), field)
    assert vigil.alerts() == []


def test_generic_values_exactly_at_the_limits_are_accepted(vigil: Harness) -> None:
    body = {"title": "t" * 400, "description": "d" * 32_768,
            "labels": {f"{i:03d}" + "n" * 253: "v" * 4096 for i in range(128)}}
    assert post_generic(vigil, body).status_code == 202
    assert post_generic(vigil, [{"title": f"t{i}"} for i in range(1000)]).status_code == 202
    assert len(vigil.alerts(limit=10)) == 10


# --- PagerDuty Events v2 (answers in PagerDuty's own shape: 400 "invalid event") -----------

@pytest.mark.parametrize(("change", "field"), [
    (lambda e: e["payload"].update(component="c" * 4097), "payload.component"),
    (lambda e: e["payload"].update(custom_details=many(129)), "payload.custom_details"),
    (lambda e: e["payload"].update(custom_details={"log": "l" * 32_769}),
     "payload.custom_details.log"),
    (lambda e: e.update(links=[{"href": f"https://x/{i}"} for i in range(33)]), "links"),
])
def test_pagerduty_event_over_a_limit_is_refused(vigil: Harness, change: Any,
                                                 field: str) -> None:
    event = pd_event(vigil)
    change(event)
    resp = vigil.client.post("/v2/enqueue", json=event)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["status"] == "invalid event"
    (error,) = body["errors"]
    assert error.startswith(f"'{field}' ") and "at most" in error
    assert vigil.alerts() == []


def test_pagerduty_values_exactly_at_the_limits_are_accepted(vigil: Harness) -> None:
    event = pd_event(vigil, component="c" * 4096,
                     custom_details={**many(127), "log": "l" * 32_768})
    event["links"] = [{"href": f"https://x/{i}"} for i in range(32)]
    resp = vigil.client.post("/api/v1/ingest/pagerduty/v2/enqueue", json=event)
    assert resp.status_code == 202, resp.text
    assert len(vigil.alerts()) == 1


# --- Opsgenie Alert API --------------------------------------------------------------------

@pytest.mark.parametrize(("body", "field"), [
    ({"message": "m", "details": many(129)}, "details"),
    ({"message": "m", "details": {"log": "l" * 32_769}}, "details.log"),
    ({"message": "m", "details": {"n" * 257: "v"}}, "details"),
    ({"message": "m", "tags": ["t" * 20_000, "u" * 20_000]}, "tags"),
])
def test_opsgenie_create_over_a_limit_is_refused(vigil: Harness, body: Any,
                                                 field: str) -> None:
    resp = post_og(vigil, body)
    assert resp.status_code == 422, resp.text
    errors = resp.json()["errors"]
    assert list(errors) == [field]
    assert "at most" in errors[field]
    assert vigil.alerts() == []


def test_opsgenie_values_exactly_at_the_limits_are_accepted(vigil: Harness) -> None:
    resp = post_og(vigil, {"message": "m", "details": {**many(127), "log": "l" * 32_768}})
    assert resp.status_code == 202, resp.text
    assert len(vigil.alerts()) == 1
