"""From captured payload to normalized alert: every inbound parser, every fixture file.

Expected values are read from the payloads themselves (and, for the files named below,
spelled out literally), never from the parser under test.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, fixture_path
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity, parse_severity
from vigil.errors import InvalidInput, VigilError
from vigil.integrations.alertmanager import parser as alertmanager
from vigil.integrations.generic import parser as generic
from vigil.integrations.grafana import parser as grafana
from vigil.integrations.opsgenie import parser as opsgenie
from vigil.integrations.pagerduty import parser as pagerduty

# --- fixtures on disk -----------------------------------------------------------------------


def fixture_files() -> list[Path]:
    """Every captured payload; the ``*.meta.json`` sidecars hold request metadata only."""
    return sorted(
        p for p in FIXTURES.glob("*/fixtures/*.json") if not p.name.endswith(".meta.json")
    )


def integration_of(path: Path) -> str:
    return path.parent.parent.name


def fixture_id(path: Path) -> str:
    return f"{integration_of(path)}/{path.name}"


def load(integration: str, name: str) -> Any:
    return json.loads(fixture_path(integration, name).read_bytes())


ALL_FIXTURES = fixture_files()


def test_fixtures_are_present() -> None:
    kinds = {integration_of(p) for p in ALL_FIXTURES}
    assert kinds == {"alertmanager", "grafana", "generic", "pagerduty", "opsgenie"}
    for p in ALL_FIXTURES:
        assert not p.name.endswith(".meta.json")


# --- independent oracles --------------------------------------------------------------------

#: The test's own copy of the severity vocabulary for the words the fixtures use.
SEVERITY_WORDS: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "error": Severity.HIGH,
    "high": Severity.HIGH,
    "warning": Severity.WARNING,
    "info": Severity.INFO,
    "low": Severity.LOW,
    "p1": Severity.CRITICAL,
    "p2": Severity.HIGH,
    "p3": Severity.WARNING,
    "p4": Severity.INFO,
    "p5": Severity.LOW,
}

PD_SEVERITY = {
    "critical": Severity.CRITICAL,
    "error": Severity.HIGH,
    "warning": Severity.WARNING,
    "info": Severity.INFO,
}

OG_PRIORITY = {
    "P1": Severity.CRITICAL,
    "P2": Severity.HIGH,
    "P3": Severity.WARNING,
    "P4": Severity.INFO,
    "P5": Severity.LOW,
}


def expected_severity(word: object) -> Severity:
    if word is None:
        return Severity.WARNING
    return SEVERITY_WORDS.get(str(word).strip().lower(), parse_severity(word))


def iso(value: str) -> datetime | None:
    """What a Go timestamp means: ``0001-01-01T00:00:00Z`` is "none"."""
    dt = datetime.fromisoformat(value)
    if dt.year <= 1:
        return None
    return dt.astimezone(UTC)


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def hrefs(event: AlertEvent) -> list[str]:
    return [lnk["href"] for lnk in event.links]


def assert_utc(value: datetime | None) -> None:
    if value is not None:
        assert value.tzinfo is not None
        assert value.utcoffset() is not None
        assert value.utcoffset() == UTC.utcoffset(None)


def first_label(labels: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if labels.get(key):
            return labels[key]
    return None


# --- generic mappings, as fixtures/README.md documents them ---------------------------------

#: Uptime Kuma: 0 = DOWN, 1 = UP. Numbers and booleans mean opposite things in different
#: tools, so the default resolve vocabulary holds none and the mapping names its own.
KUMA_MAPPING: dict[str, Any] = {
    "title": "$.msg",
    "dedup_key": "$.monitor.id",
    "service": "$.monitor.name",
    "status": "$.heartbeat.status",
    "url": "$.monitor.url",
    "resolve_values": ["1"],
}

DATADOG_MAPPING: dict[str, Any] = {
    "title": "$.alert_title",
    "severity": "$.alert_priority",
    "dedup_key": "$.alert_cycle_key",
    "service": "$.host_name",
    "status": "$.alert_transition",
    "resolve_values": ["Recovered"],
}

ARRAY_MAPPING: dict[str, Any] = {
    "title": "$.title",
    "severity": "$.severity",
    "dedup_key": "$.id",
    "service": "$.service",
    "status": "$.status",
}

GENERIC_MAPPINGS: dict[str, dict[str, Any]] = {
    "uptime_kuma_": KUMA_MAPPING,
    "datadog_": DATADOG_MAPPING,
    "array_": ARRAY_MAPPING,
}


def generic_mapping_for(name: str) -> dict[str, Any] | None:
    for prefix, mapping in GENERIC_MAPPINGS.items():
        if name.startswith(prefix):
            return mapping
    return None


def dig(obj: Any, path: str) -> Any:
    """The test's own reader for the plain ``$.a.b`` paths used above."""
    assert path.startswith("$.")
    for part in path[2:].split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


# --- per-format checks against the payload --------------------------------------------------


def check_am_like(payload: dict[str, Any], events: list[AlertEvent], source: str) -> None:
    alerts = payload["alerts"]
    assert len(events) == len(alerts)
    for ev, alert in zip(events, alerts, strict=True):
        labels: dict[str, str] = alert["labels"]
        ann: dict[str, str] = alert.get("annotations", {})
        assert ev.source == source
        assert ev.raw == alert
        assert ev.action == (Action.RESOLVE if alert["status"] == "resolved" else Action.TRIGGER)
        assert ev.name == labels["alertname"]
        assert ev.summary == (ann.get("summary") or ann.get("message")
                              or ann.get("description") or labels["alertname"])
        assert ev.description == ann.get("description")
        assert ev.severity == expected_severity(labels.get("severity"))
        assert ev.service == first_label(labels, ("service", "app", "application", "job"))
        assert ev.environment == first_label(labels, ("env", "environment", "stage"))
        assert ev.labels == labels
        for key, value in ann.items():
            assert ev.annotations[key] == value
        assert ev.starts_at == iso(alert["startsAt"])
        assert ev.starts_at is not None
        assert_utc(ev.starts_at)
        if alert["status"] == "resolved":
            assert ev.ends_at == iso(alert["endsAt"])
            assert ev.ends_at is not None
            assert ev.ends_at >= ev.starts_at
            assert_utc(ev.ends_at)
        else:
            assert ev.ends_at is None
        expected_links = [alert.get("generatorURL"), ann.get("runbook_url"),
                          ann.get("dashboard_url") or ann.get("dashboard")]
        if source == "grafana":
            expected_links += [alert.get(k) for k in
                               ("dashboardURL", "panelURL", "silenceURL", "imageURL")]
            if alert.get("valueString"):
                assert ev.annotations["value"] == alert["valueString"]
        assert hrefs(ev) == [h for h in expected_links if h]
        fingerprint(ev, integration_id=1)


def check_pagerduty(payload: dict[str, Any], ev: AlertEvent) -> None:
    assert ev.source == "pagerduty"
    assert ev.raw == payload
    assert ev.action == Action(payload["event_action"])
    if payload.get("dedup_key"):
        assert ev.dedup_key == payload["dedup_key"]
    body = payload.get("payload")
    if body is None:
        assert ev.name == payload["dedup_key"]
        assert ev.severity == Severity.WARNING
        assert ev.labels == {}
        assert ev.links == []
        return
    assert ev.name == body["summary"]
    assert ev.summary == body["summary"]
    assert ev.severity == PD_SEVERITY[body["severity"]]
    labels = {"source": body["source"]}
    for key in ("component", "group", "class"):
        if body.get(key):
            labels[key] = body[key]
    assert ev.labels == labels
    raw_details = body.get("custom_details")
    details: dict[str, Any] = (raw_details if isinstance(raw_details, dict)
                               else {} if raw_details is None else {"details": raw_details})
    assert ev.annotations == {k: as_text(v) for k, v in details.items()}
    assert ev.service == (details.get("service") or body.get("component") or body["source"])
    expected_links = [lnk["href"] for lnk in payload.get("links", [])]
    expected_links += [img.get("href") or img["src"] for img in payload.get("images", [])]
    if payload.get("client_url"):
        expected_links.append(payload["client_url"])
    assert hrefs(ev) == expected_links
    if body.get("timestamp"):
        assert ev.starts_at == datetime.fromisoformat(body["timestamp"])
        assert_utc(ev.starts_at)
    else:
        assert ev.starts_at is None


def check_opsgenie_create(payload: dict[str, Any], ev: AlertEvent) -> None:
    details = {k: as_text(v) for k, v in payload.get("details", {}).items()}
    assert ev.source == "opsgenie"
    assert ev.raw == payload
    assert ev.action == Action.TRIGGER
    assert ev.name == payload["message"]
    assert ev.summary == payload["message"]
    assert ev.description == payload.get("description")
    assert ev.severity == OG_PRIORITY[payload.get("priority", "P3")]
    if payload.get("alias"):
        assert ev.dedup_key == payload["alias"]
    else:
        assert ev.dedup_key is not None and ev.dedup_key.startswith("vigil-")
    for key, value in details.items():
        assert ev.annotations[key] == value
    if payload.get("tags"):
        assert ev.annotations["tags"] == ",".join(payload["tags"])
        assert ev.annotations["tags"].split(",") == payload["tags"]
    else:
        assert "tags" not in ev.annotations or "tags" in details
    labels = {"message": payload["message"]}
    for key in ("entity", "source"):
        if payload.get(key):
            labels[key] = payload[key]
    assert ev.labels == labels
    assert ev.service == (details.get("service") or payload.get("entity"))
    assert ev.environment == (details.get("environment") or details.get("env"))
    assert ev.actor == payload.get("user")


def check_generic(payload: Any, events: list[AlertEvent], mapping: dict[str, Any]) -> None:
    items = payload if isinstance(payload, list) else [payload]
    assert len(events) == len(items)
    resolve = {str(v).lower() for v in mapping.get("resolve_values", ["resolved", "ok"])}
    for ev, item in zip(events, items, strict=True):
        assert ev.source == "generic"
        assert ev.raw == item
        title = dig(item, mapping["title"])
        assert ev.name == str(title)
        assert ev.summary == str(title)
        assert ev.dedup_key == str(dig(item, mapping["dedup_key"]))
        assert ev.service == str(dig(item, mapping["service"]))
        sev_path = mapping.get("severity")
        assert ev.severity == expected_severity(dig(item, sev_path) if sev_path else None)
        status = str(dig(item, mapping["status"])).lower()
        assert ev.action == (Action.RESOLVE if status in resolve else Action.TRIGGER)
        if "url" in mapping:
            assert ev.links == [{"href": dig(item, mapping["url"]), "text": "Source"}]
        fingerprint(ev, integration_id=1)


# --- 1. every fixture file ------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=fixture_id)
def test_every_fixture_parses_to_the_payloads_values(path: Path) -> None:
    kind = integration_of(path)
    payload = json.loads(path.read_bytes())
    if kind in ("alertmanager", "grafana"):
        parse = alertmanager.parse if kind == "alertmanager" else grafana.parse
        check_am_like(payload, parse(payload, {}), kind)
    elif kind == "pagerduty":
        ev = pagerduty.to_alert_event(pagerduty.parse_event(payload), payload)
        check_pagerduty(payload, ev)
        fingerprint(ev, integration_id=1)
    elif kind == "opsgenie":
        if "message" in payload:
            ev = opsgenie.parse_create(payload)
            check_opsgenie_create(payload, ev)
            fingerprint(ev, integration_id=1)
        else:  # an acknowledge/close body (AlertActionPayload)
            act = opsgenie.parse_action(payload)
            for key in ("user", "source", "note"):
                assert getattr(act, key) == payload.get(key)
    elif kind == "generic":
        mapping = generic_mapping_for(path.name)
        if mapping is None:
            pytest.skip(f"no field mapping configured in this test for {path.name}; "
                        "add one to GENERIC_MAPPINGS from fixtures/README.md")
        check_generic(payload, generic.parse(payload, mapping), mapping)
    else:
        pytest.fail(f"unknown integration directory {kind}")


# --- Alertmanager ---------------------------------------------------------------------------


def test_alertmanager_firing_group() -> None:
    payload = load("alertmanager", "firing_group.json")
    events = alertmanager.parse(payload, {})
    assert len(events) == len(payload["alerts"]) == 2
    assert [e.action for e in events] == [Action.TRIGGER, Action.TRIGGER]
    assert [e.name for e in events] == ["TargetIsUp", "TargetIsUp"]
    assert [e.severity for e in events] == [Severity.WARNING, Severity.WARNING]
    assert [e.service for e in events] == ["monitoring", "monitoring"]
    assert [e.environment for e in events] == ["prod", "prod"]
    assert [e.labels["instance"] for e in events] == ["127.0.0.1:19093", "127.0.0.1:19090"]
    assert [e.labels["job"] for e in events] == ["alertmanager", "prometheus"]
    assert [e.starts_at for e in events] == [
        datetime(2026, 11, 22, 17, 14, 12, 710000, tzinfo=UTC),
        datetime(2026, 11, 22, 17, 14, 13, 710000, tzinfo=UTC),
    ]
    assert [e.ends_at for e in events] == [None, None]
    assert events[0].summary == "Target 127.0.0.1:19093 of job alertmanager is up"
    # The Go encoder's \u0026 is a plain "&" once decoded.
    assert events[0].links == [
        {"href": "http://127.0.0.1:19090/graph?g0.expr=up+%3D%3D+1&g0.tab=1", "text": "Source"}
    ]
    assert events[0].dedup_key is None


def test_alertmanager_firing_single_has_runbook_and_critical() -> None:
    (ev,) = alertmanager.parse(load("alertmanager", "firing_single.json"), {})
    assert ev.action == Action.TRIGGER
    assert ev.name == "CheckoutErrorBudgetBurn"
    assert ev.severity == Severity.CRITICAL
    assert ev.service == "checkout"
    assert ev.environment == "prod"
    assert ev.summary == "Checkout error budget is burning fast"
    assert ev.description == (
        "The checkout service has burned 1% of its error budget in the last hour."
    )
    assert ev.links == [
        {"href": "http://127.0.0.1:19090/graph?g0.expr=vector%281%29&g0.tab=1",
         "text": "Source"},
        {"href": "https://runbooks.example.com/checkout/error-budget", "text": "Runbook"},
    ]
    assert ev.starts_at == datetime(2026, 11, 22, 17, 14, 7, 147000, tzinfo=UTC)
    assert ev.ends_at is None  # endsAt is Go's zero time


def test_alertmanager_resolved() -> None:
    (ev,) = alertmanager.parse(load("alertmanager", "resolved.json"), {})
    assert ev.action == Action.RESOLVE
    assert ev.name == "CyclingAlert"
    assert ev.severity == Severity.WARNING
    assert ev.service == "payments"
    assert ev.environment == "staging"
    assert ev.starts_at == datetime(2026, 11, 22, 17, 15, 0, 345000, tzinfo=UTC)
    assert ev.ends_at == datetime(2026, 11, 22, 17, 15, 30, 345000, tzinfo=UTC)
    assert_utc(ev.ends_at)


def test_alertmanager_mixed_group_has_one_firing_and_one_resolved() -> None:
    events = alertmanager.parse(load("alertmanager", "mixed.json"), {})
    assert [e.action for e in events] == [Action.TRIGGER, Action.RESOLVE]
    assert [e.labels["replica"] for e in events] == ["db-a", "db-b"]
    assert [e.ends_at for e in events] == [
        None, datetime(2026, 11, 22, 17, 15, 45, 211000, tzinfo=UTC)
    ]
    assert events[0].service == events[1].service == "database"


def test_alertmanager_firing_alert_with_a_future_ends_at_keeps_ends_at_none() -> None:
    payload = load("alertmanager", "firing_single.json")
    payload["alerts"][0]["endsAt"] = "2030-01-01T00:00:00Z"
    (ev,) = alertmanager.parse(payload, {})
    assert ev.ends_at is None


def test_alertmanager_offset_timestamps_become_utc() -> None:
    payload = load("alertmanager", "firing_single.json")
    payload["alerts"][0]["startsAt"] = "2026-11-22T18:14:07.147+01:00"
    (ev,) = alertmanager.parse(payload, {})
    assert ev.starts_at == datetime(2026, 11, 22, 17, 14, 7, 147000, tzinfo=UTC)
    assert ev.starts_at is not None and ev.starts_at.tzinfo == UTC


def test_alertmanager_service_and_environment_fallbacks() -> None:
    payload = {"alerts": [{"status": "firing",
                           "labels": {"alertname": "A", "job": "node", "stage": "qa",
                                      "priority": "P2"},
                           "annotations": {"message": "m", "dashboard": "https://d/x"}}]}
    (ev,) = alertmanager.parse(payload, {})
    assert ev.service == "node"
    assert ev.environment == "qa"
    assert ev.severity == Severity.HIGH  # from the priority label when there is no severity
    assert ev.summary == "m"
    assert ev.links == [{"href": "https://d/x", "text": "Dashboard"}]


@pytest.mark.parametrize(("parse", "name", "version", "other"), [
    (alertmanager.parse, "alertmanager/firing_group.json", "4", "5"),
    (grafana.parse, "grafana/firing.json", "1", "4"),
])
@pytest.mark.parametrize("bad", ["other", 4, "", {"v": 1}])
def test_a_payload_version_other_than_the_one_known_is_422_naming_version(
        parse: Any, name: str, version: str, other: str, bad: Any) -> None:
    payload = load(*name.split("/"))
    assert payload["version"] == version  # the captured payload's own
    assert parse(copy.deepcopy(payload), {})
    payload["version"] = other if bad == "other" else bad
    with pytest.raises(InvalidInput) as info:
        parse(payload, {})
    assert info.value.field == "version"
    assert info.value.status_code == 422
    assert f"Vigil reads version {version!r}" in info.value.message
    for absent in (None, ...):  # null, or no version at all, is read as the known one
        if absent is None:
            payload["version"] = None
        else:
            del payload["version"]
        assert parse(copy.deepcopy(payload), {})


def test_alertmanager_without_alertname_uses_summary_then_alert() -> None:
    payload = {"alerts": [{"status": "firing", "labels": {"a": "b"},
                           "annotations": {"summary": "S"}},
                          {"status": "firing", "labels": {"a": "c"}}]}
    assert [e.name for e in alertmanager.parse(payload, {})] == ["S", "alert"]


# --- Grafana --------------------------------------------------------------------------------


def test_grafana_firing() -> None:
    payload = load("grafana", "firing.json")
    events = grafana.parse(payload, {})
    assert len(events) == len(payload["alerts"]) == 2
    assert all(e.action == Action.TRIGGER for e in events)
    assert all(e.source == "grafana" for e in events)
    assert [e.name for e in events] == ["High CPU usage", "High CPU usage"]
    assert [e.severity for e in events] == [Severity.CRITICAL, Severity.CRITICAL]
    assert [e.service for e in events] == ["web", "web"]
    assert [e.environment for e in events] == ["prod", "prod"]
    assert [e.starts_at for e in events] == [datetime(2024, 6, 3, 9, 14, 10, tzinfo=UTC)] * 2
    assert [e.ends_at for e in events] == [None, None]
    for ev, alert in zip(events, payload["alerts"], strict=True):
        assert ev.annotations["value"] == alert["valueString"]
        links = {lnk["text"]: lnk["href"] for lnk in ev.links}
        assert links["Source"] == alert["generatorURL"]
        assert links["Runbook"] == "https://runbooks.example.com/web/high-cpu"
        assert links["Dashboard"] == alert["dashboardURL"]
        assert links["Panel"] == alert["panelURL"]
        assert links["Silence in Grafana"] == alert["silenceURL"]
    assert {lnk["text"]: lnk["href"] for lnk in events[0].links}["Image"] == (
        "https://grafana.example.com/public/img/attachments/kP3vQ9sXw2LmT7yZ.png"
    )
    assert "Image" not in {lnk["text"] for lnk in events[1].links}
    assert events[0].annotations["value"].startswith("[ var='B' labels={instance=web-01:9100}")


def test_grafana_resolved_state_ok() -> None:
    payload = load("grafana", "resolved.json")
    assert payload["state"] == "ok"
    events = grafana.parse(payload, {})
    assert [e.action for e in events] == [Action.RESOLVE, Action.RESOLVE]
    assert [e.ends_at for e in events] == [datetime(2024, 6, 3, 9, 21, 10, tzinfo=UTC)] * 2
    assert all("Image" not in {lnk["text"] for lnk in e.links} for e in events)
    assert events[1].annotations["value"] == payload["alerts"][1]["valueString"]


def test_grafana_empty_dashboard_and_panel_urls_give_no_links() -> None:
    payload = load("grafana", "firing.json")
    payload["alerts"][1]["dashboardURL"] = ""
    payload["alerts"][1]["panelURL"] = ""
    ev = grafana.parse(payload, {})[1]
    assert {lnk["text"] for lnk in ev.links} == {"Source", "Runbook", "Silence in Grafana"}


def test_grafana_parses_alertmanager_shaped_payloads_too() -> None:
    payload = load("alertmanager", "firing_group.json")
    am = alertmanager.parse(payload, {})
    del payload["version"]  # (Alertmanager's "4" is not a Grafana version)
    gf = grafana.parse(payload, {})
    assert [(e.name, e.labels, e.action) for e in gf] == [(e.name, e.labels, e.action) for e in am]
    assert all(e.source == "grafana" for e in gf)


# --- PagerDuty ------------------------------------------------------------------------------


def pd(payload: dict[str, Any]) -> AlertEvent:
    return pagerduty.to_alert_event(pagerduty.parse_event(payload), payload)


def test_pagerduty_trigger_uses_every_field() -> None:
    ev = pd(load("pagerduty", "trigger.json"))
    assert ev.action == Action.TRIGGER
    assert ev.dedup_key == "checkout-api/latency-p99"
    assert ev.name == "p99 latency above 2s on checkout-api.prod.example.com"
    assert ev.severity == Severity.CRITICAL
    assert ev.service == "nginx"
    assert ev.labels == {"source": "checkout-api.prod.example.com", "component": "nginx",
                         "group": "checkout", "class": "latency"}
    assert ev.annotations == {"p99_latency_ms": "2430", "threshold_ms": "2000",
                              "region": "eu-west-1", "error rate": "3.1%"}
    assert ev.links == [
        {"href": "https://runbooks.example.com/checkout/latency", "text": "Runbook"},
        {"href": "https://monitoring.example.com/dashboards/checkout",
         "text": "checkout-api p99 latency, last 1h"},
        {"href": "https://monitoring.example.com/checks/checkout-api-latency",
         "text": "Example Monitoring"},
    ]
    assert ev.starts_at == datetime(2024, 6, 3, 9, 14, 10, 512000, tzinfo=UTC)
    assert_utc(ev.starts_at)


@pytest.mark.parametrize(("name", "action"), [("acknowledge.json", Action.ACKNOWLEDGE),
                                              ("resolve.json", Action.RESOLVE)])
def test_pagerduty_acknowledge_and_resolve_without_payload(name: str, action: Action) -> None:
    ev = pd(load("pagerduty", name))
    assert ev.action == action
    assert ev.dedup_key == "checkout-api/latency-p99"
    assert ev.name == "checkout-api/latency-p99"


def test_pagerduty_from_alertmanager_trigger_and_resolve() -> None:
    trig = pd(load("pagerduty", "alertmanager_trigger.json"))
    res = pd(load("pagerduty", "alertmanager_resolve.json"))
    key = "d9ee7e5b7729904d629f4ba49c6ed4af0bb4f6c5518d1be5bd7fc26c5af6bc91"
    assert (trig.action, res.action) == (Action.TRIGGER, Action.RESOLVE)
    assert trig.dedup_key == res.dedup_key == key
    assert trig.severity == res.severity == Severity.HIGH  # Alertmanager sends "error"
    assert trig.name == "[FIRING:1] CyclingAlert (vigil-e2e staging payments warning)"
    assert res.name == "[RESOLVED] CyclingAlert (vigil-e2e staging payments warning)"
    assert trig.annotations["num_firing"] == "1"
    assert res.annotations["num_resolved"] == "1"
    assert trig.annotations["firing"].startswith("Labels:\n - alertname = CyclingAlert")
    assert trig.links == [{"href": "http://127.0.0.1:19093/#/alerts?receiver=vigil-pagerduty",
                           "text": "Alertmanager"}]
    assert trig.service == "Alertmanager"
    assert fingerprint(trig, integration_id=7) == fingerprint(res, integration_id=7)


@pytest.mark.parametrize(("word", "severity"), list(PD_SEVERITY.items()))
def test_pagerduty_severity_mapping(word: str, severity: Severity) -> None:
    payload = load("pagerduty", "trigger.json")
    payload["payload"]["severity"] = word
    assert pd(payload).severity == severity


def test_pagerduty_custom_details_that_are_not_an_object() -> None:
    payload = load("pagerduty", "trigger.json")
    payload["payload"]["custom_details"] = "just text"
    assert pd(payload).annotations == {"details": "just text"}


def test_pagerduty_custom_details_service_and_environment() -> None:
    payload = load("pagerduty", "trigger.json")
    payload["payload"]["custom_details"] = {"service": "checkout", "environment": "prod"}
    ev = pd(payload)
    assert (ev.service, ev.environment) == ("checkout", "prod")


def test_pagerduty_trigger_without_dedup_key_gets_a_key_of_its_own() -> None:
    """As PagerDuty: a trigger without a key is a new alert under a new key (32 hex digits),
    not one keyed by its content."""
    payload = load("pagerduty", "trigger.json")
    del payload["dedup_key"]
    a, b = pd(copy.deepcopy(payload)), pd(copy.deepcopy(payload))
    for ev in (a, b):
        assert ev.dedup_key is not None and len(ev.dedup_key) == 32
        int(ev.dedup_key, 16)
    assert a.dedup_key != b.dedup_key
    assert fingerprint(a, integration_id=1) != fingerprint(b, integration_id=1)
    made = pagerduty.to_alert_event(pagerduty.parse_event(payload), payload,
                                    new_key=lambda: "given")
    assert made.dedup_key == "given"
    payload["dedup_key"] = "theirs"  # a key the sender gives is kept
    assert pd(payload).dedup_key == "theirs"


def test_pagerduty_resolve_with_payload_is_accepted() -> None:
    payload = load("pagerduty", "alertmanager_resolve.json")
    assert payload["payload"] is not None
    assert pagerduty.parse_event(payload).event_action == "resolve"


# --- Opsgenie -------------------------------------------------------------------------------


def test_opsgenie_create_uses_every_field() -> None:
    ev = opsgenie.parse_create(load("opsgenie", "create.json"))
    assert ev.action == Action.TRIGGER
    assert ev.dedup_key == "db-primary-01/disk-usage"
    assert ev.name == "Disk usage above 90% on db-primary-01"
    assert ev.severity == Severity.CRITICAL  # P1
    assert ev.description == (
        "Filesystem /var/lib/postgresql on db-primary-01 is 93% full (threshold 90%)."
    )
    assert ev.annotations == {"host": "db-primary-01", "mount": "/var/lib/postgresql",
                              "usage": "93%", "tags": "OverwriteQuietHours,Critical,database",
                              "entity": "db-primary-01"}
    assert ev.labels == {"message": "Disk usage above 90% on db-primary-01",
                         "entity": "db-primary-01", "source": "Example Monitoring"}
    assert ev.service == "db-primary-01"
    assert ev.actor == "Monitoring Bot"


def test_opsgenie_create_from_alertmanager() -> None:
    ev = opsgenie.parse_create(load("opsgenie", "alertmanager_create.json"))
    assert ev.dedup_key == "d9ee7e5b7729904d629f4ba49c6ed4af0bb4f6c5518d1be5bd7fc26c5af6bc91"
    assert ev.severity == Severity.WARNING  # no priority: Opsgenie's default P3
    assert ev.name == "[FIRING:1] CyclingAlert (vigil-e2e staging payments warning)"
    assert ev.annotations == {"alertname": "CyclingAlert", "cluster": "vigil-e2e",
                              "env": "staging", "service": "payments", "severity": "warning"}
    assert ev.service == "payments"
    assert ev.environment == "staging"
    assert "tags" not in ev.annotations
    assert ev.actor is None


def test_alertmanager_keys_pagerduty_and_opsgenie_by_sha256_of_group_key() -> None:
    group_key = load("alertmanager", "cycling_firing.json")["groupKey"]
    digest = hashlib.sha256(group_key.encode()).hexdigest()
    assert load("pagerduty", "alertmanager_trigger.json")["dedup_key"] == digest
    assert opsgenie.parse_create(load("opsgenie", "alertmanager_create.json")).dedup_key == digest


@pytest.mark.parametrize(("priority", "severity"), list(OG_PRIORITY.items()))
def test_opsgenie_priority_mapping(priority: str, severity: Severity) -> None:
    payload = load("opsgenie", "create.json")
    payload["priority"] = priority
    assert opsgenie.parse_create(payload).severity == severity


def test_opsgenie_create_without_alias_gets_a_stable_derived_key() -> None:
    payload = load("opsgenie", "create.json")
    del payload["alias"]
    a = opsgenie.parse_create(copy.deepcopy(payload))
    b = opsgenie.parse_create(copy.deepcopy(payload))
    assert a.dedup_key is not None and a.dedup_key.startswith("vigil-")
    assert a.dedup_key == b.dedup_key
    payload["entity"] = "db-primary-02"
    assert opsgenie.parse_create(payload).dedup_key != a.dedup_key


def test_opsgenie_details_environment_and_non_string_values() -> None:
    ev = opsgenie.parse_create({"message": "m", "details": {"env": "qa", "n": 3, "o": {"a": 1}}})
    assert ev.environment == "qa"
    assert ev.annotations["n"] == "3"
    assert json.loads(ev.annotations["o"]) == {"a": 1}


@pytest.mark.parametrize("name", ["acknowledge.json", "close.json"])
def test_opsgenie_action_bodies(name: str) -> None:
    payload = load("opsgenie", name)
    act = opsgenie.parse_action(payload)
    assert act.user == "Jane Doe"
    assert act.source == "Vigil"
    assert act.note == payload["note"]


def test_opsgenie_close_from_alertmanager() -> None:
    act = opsgenie.parse_action(load("opsgenie", "alertmanager_close.json"))
    assert act.source == "http://127.0.0.1:19093/#/alerts?receiver=vigil-opsgenie"
    assert act.user is None and act.note is None


def test_opsgenie_action_accepts_no_body() -> None:
    act = opsgenie.parse_action(None)
    assert (act.user, act.source, act.note) == (None, None, None)


# --- generic --------------------------------------------------------------------------------


def test_generic_array_gives_one_event_per_element() -> None:
    payload = load("generic", "array_of_alerts.json")
    for config in (ARRAY_MAPPING, {}):  # the array's fields are also the default paths
        events = generic.parse(payload, config)
        assert len(events) == len(payload) == 3
        assert [e.name for e in events] == ["API 5xx rate above 5%", "Queue depth above 10k",
                                            "Certificate expires in 7 days"]
        assert [e.severity for e in events] == [Severity.CRITICAL, Severity.WARNING,
                                                Severity.INFO]
        assert [e.dedup_key for e in events] == ["chk-1001", "chk-1002", "chk-1003"]
        assert [e.service for e in events] == ["api-gateway", "order-worker", "www"]
        assert [e.action for e in events] == [Action.TRIGGER] * 3
        assert [e.raw for e in events] == payload


def test_generic_uptime_kuma_down_and_up() -> None:
    down = generic.parse(load("generic", "uptime_kuma_down.json"), KUMA_MAPPING)
    up = generic.parse(load("generic", "uptime_kuma_up.json"), KUMA_MAPPING)
    assert len(down) == len(up) == 1
    assert down[0].action == Action.TRIGGER
    assert up[0].action == Action.RESOLVE
    assert down[0].name == "[Shop frontend] [🔴 Down] Request failed with status code 503"
    assert up[0].name == "[Shop frontend] [✅ Up] 200 - OK"
    assert down[0].dedup_key == up[0].dedup_key == "3"
    assert down[0].service == "Shop frontend"
    assert down[0].severity == Severity.WARNING  # Uptime Kuma has no severity
    assert down[0].links == [{"href": "https://shop.example.com/health", "text": "Source"}]
    assert fingerprint(down[0], integration_id=3) == fingerprint(up[0], integration_id=3)


def test_generic_uptime_kuma_needs_a_title_mapping() -> None:
    with pytest.raises(InvalidInput) as err:
        generic.parse(load("generic", "uptime_kuma_down.json"), {})
    assert err.value.field == "body.title"


def test_generic_jsonpath_filter_mapping() -> None:
    config = {**KUMA_MAPPING, "environment": "$.monitor.tags[?(@.name=='env')].value"}
    (ev,) = generic.parse(load("generic", "uptime_kuma_down.json"), config)
    assert ev.environment == "prod"


def test_generic_datadog_triggered_and_recovered() -> None:
    trig = generic.parse(load("generic", "datadog_triggered.json"), DATADOG_MAPPING)[0]
    rec = generic.parse(load("generic", "datadog_recovered.json"), DATADOG_MAPPING)[0]
    assert (trig.action, rec.action) == (Action.TRIGGER, Action.RESOLVE)
    assert trig.name == rec.name == "High CPU on web hosts"
    assert trig.severity == rec.severity == Severity.HIGH  # alert_priority P2
    assert trig.dedup_key == rec.dedup_key == "7306410538496393318"
    assert trig.service == "web-03"
    assert trig.description is not None and "CPU usage on web-03 is above 90%" in (
        trig.description)  # $.body is a default description path
    assert fingerprint(trig, integration_id=4) == fingerprint(rec, integration_id=4)


def test_generic_datadog_alert_type_as_severity() -> None:
    config = {**DATADOG_MAPPING, "severity": "$.alert_type"}
    (ev,) = generic.parse(load("generic", "datadog_triggered.json"), config)
    assert ev.severity == Severity.HIGH  # "error"


@pytest.mark.parametrize("word", ["resolved", "RESOLVED", "Resolve", "ok", "OK", "closed",
                                  "close", "recovered", "Recovered", "up", "normal", "inactive",
                                  "green", "success", " resolved "])
def test_generic_resolve_words(word: object) -> None:
    (ev,) = generic.parse({"title": "t", "status": word}, {})
    assert ev.action == Action.RESOLVE


@pytest.mark.parametrize("word", ["false", "0", False, 0, "1", True, "firing", "down"])
def test_generic_numbers_and_booleans_trigger_unless_configured(word: object) -> None:
    (ev,) = generic.parse({"title": "t", "status": word}, {})
    assert ev.action == Action.TRIGGER


@pytest.mark.parametrize("word", ["acknowledged", "ACK", "acknowledge"])
def test_generic_acknowledge_words(word: str) -> None:
    (ev,) = generic.parse({"title": "t", "state": word}, {})
    assert ev.action == Action.ACKNOWLEDGE


@pytest.mark.parametrize("word", ["firing", "alerting", "down", "critical", "true", True, 1,
                                  "unresolved", None])
def test_generic_other_words_trigger(word: object) -> None:
    (ev,) = generic.parse({"title": "t", "status": word}, {})
    assert ev.action == Action.TRIGGER


def test_generic_custom_resolve_values() -> None:
    config = {"status": "$.s", "resolve_values": ["Fixed"], "acknowledge_values": ["seen"]}
    assert generic.parse({"title": "t", "s": "fixed"}, config)[0].action == Action.RESOLVE
    assert generic.parse({"title": "t", "s": "SEEN"}, config)[0].action == Action.ACKNOWLEDGE
    assert generic.parse({"title": "t", "s": "resolved"}, config)[0].action == Action.TRIGGER


def test_generic_default_paths() -> None:
    (ev,) = generic.parse({"name": "N", "level": "crit", "fingerprint": "fp-1",
                           "component": "db", "env": "prod", "tags": ["a", "b"],
                           "link": "https://x", "text": "details"}, {})
    assert ev.name == "N"
    assert ev.severity == Severity.CRITICAL
    assert ev.dedup_key == "fp-1"
    assert ev.service == "db"
    assert ev.environment == "prod"
    assert ev.labels == {"a": "", "b": ""}
    assert ev.links == [{"href": "https://x", "text": "Source"}]
    assert ev.description == "details"


def test_generic_without_key_derives_a_stable_one() -> None:
    body = {"title": "Disk full", "service": "db", "labels": {"host": "h1"}}
    a = generic.parse(copy.deepcopy(body), {})[0]
    b = generic.parse(copy.deepcopy(body), {})[0]
    c = generic.parse({**body, "labels": {"host": "h2"}}, {})[0]
    d = generic.parse({**body, "service": "web"}, {})[0]
    assert a.dedup_key is not None and a.dedup_key.startswith("vigil-")
    assert a.dedup_key == b.dedup_key
    assert len({a.dedup_key, c.dedup_key, d.dedup_key}) == 3


def test_generic_validate_config_keeps_the_mapping() -> None:
    out = generic.validate_config(KUMA_MAPPING)
    for key, value in KUMA_MAPPING.items():
        assert out[key] == value


# --- fingerprints ---------------------------------------------------------------------------


def events_for(path: Path) -> list[AlertEvent]:
    """The events a fixture gives, or [] for bodies that name no alert (Opsgenie actions)."""
    kind = integration_of(path)
    payload = json.loads(path.read_bytes())
    if kind == "alertmanager":
        return alertmanager.parse(payload, {})
    if kind == "grafana":
        return grafana.parse(payload, {})
    if kind == "pagerduty":
        return [pagerduty.to_alert_event(pagerduty.parse_event(payload), payload)]
    if kind == "opsgenie":
        return [opsgenie.parse_create(payload)] if "message" in payload else []
    mapping = generic_mapping_for(path.name)
    return generic.parse(payload, mapping) if mapping is not None else []


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=fixture_id)
def test_fingerprint_is_stable(path: Path) -> None:
    first = [fingerprint(e, integration_id=11) for e in events_for(path)]
    second = [fingerprint(e, integration_id=11) for e in events_for(path)]
    assert first == second
    for fp in first:
        assert len(fp) == 64 and int(fp, 16) >= 0
    if integration_of(path) != "opsgenie" or "message" in json.loads(path.read_bytes()):
        assert first
    # Another integration never shares the identity.
    other = [fingerprint(e, integration_id=12) for e in events_for(path)]
    assert not set(first) & set(other)


def test_fingerprint_differs_with_labels() -> None:
    events = alertmanager.parse(load("alertmanager", "firing_group.json"), {})
    fps = {fingerprint(e, integration_id=1) for e in events}
    assert len(fps) == 2  # only instance/job differ
    mixed = alertmanager.parse(load("alertmanager", "mixed.json"), {})
    assert len({fingerprint(e, integration_id=1) for e in mixed}) == 2  # db-a vs db-b


def test_fingerprint_every_label_identifies_including_severity() -> None:
    payload = load("alertmanager", "firing_single.json")
    (a,) = alertmanager.parse(copy.deepcopy(payload), {})
    payload["alerts"][0]["labels"]["severity"] = "warning"
    (b,) = alertmanager.parse(payload, {})
    assert fingerprint(a, integration_id=1) != fingerprint(b, integration_id=1)


def test_fingerprint_ignores_annotations_and_times() -> None:
    payload = load("alertmanager", "firing_single.json")
    (a,) = alertmanager.parse(copy.deepcopy(payload), {})
    payload["alerts"][0]["annotations"]["description"] = "changed"
    payload["alerts"][0]["startsAt"] = "2027-01-01T00:00:00Z"
    payload["alerts"][0]["generatorURL"] = "http://elsewhere"
    (b,) = alertmanager.parse(payload, {})
    assert fingerprint(a, integration_id=1) == fingerprint(b, integration_id=1)


def test_fingerprint_same_labels_other_integration() -> None:
    (ev,) = alertmanager.parse(load("alertmanager", "firing_single.json"), {})
    assert fingerprint(ev, integration_id=1) != fingerprint(ev, integration_id=2)
    pd_ev = pd(load("pagerduty", "trigger.json"))
    assert fingerprint(pd_ev, integration_id=1) != fingerprint(pd_ev, integration_id=2)


def test_alertmanager_resent_group_gives_identical_fingerprints() -> None:
    firing = alertmanager.parse(load("alertmanager", "cycling_firing.json"), {})
    resolved = alertmanager.parse(load("alertmanager", "resolved.json"), {})
    assert [fingerprint(e, integration_id=5) for e in firing] == [
        fingerprint(e, integration_id=5) for e in resolved
    ]
    # The same group re-sent every group_interval, alerts in another order, values changed.
    payload = load("alertmanager", "firing_group.json")
    before = {e.labels["instance"]: fingerprint(e, integration_id=5)
              for e in alertmanager.parse(copy.deepcopy(payload), {})}
    payload["alerts"].reverse()
    for alert in payload["alerts"]:
        alert["annotations"]["description"] += " (again)"
    payload["truncatedAlerts"] = 0
    after = {e.labels["instance"]: fingerprint(e, integration_id=5)
             for e in alertmanager.parse(payload, {})}
    assert before == after


def test_grafana_firing_and_resolved_share_fingerprints() -> None:
    firing = grafana.parse(load("grafana", "firing.json"), {})
    resolved = grafana.parse(load("grafana", "resolved.json"), {})
    assert [fingerprint(e, integration_id=6) for e in firing] == [
        fingerprint(e, integration_id=6) for e in resolved
    ]


def test_pagerduty_trigger_acknowledge_resolve_share_a_fingerprint() -> None:
    fps = {fingerprint(pd(load("pagerduty", n)), integration_id=8)
           for n in ("trigger.json", "acknowledge.json", "resolve.json")}
    assert len(fps) == 1


# --- severity vocabulary --------------------------------------------------------------------


@pytest.mark.parametrize(("word", "severity"), [
    ("CRITICAL", Severity.CRITICAL), ("critical", Severity.CRITICAL), ("crit", Severity.CRITICAL),
    ("fatal", Severity.CRITICAL), ("emergency", Severity.CRITICAL), ("P1", Severity.CRITICAL),
    ("sev1", Severity.CRITICAL), ("SEV-1", Severity.CRITICAL), ("disaster", Severity.CRITICAL),
    ("  page ", Severity.CRITICAL),
    ("high", Severity.HIGH), ("error", Severity.HIGH), ("ERR", Severity.HIGH),
    ("major", Severity.HIGH), ("P2", Severity.HIGH), ("sev2", Severity.HIGH),
    ("warning", Severity.WARNING), ("warn", Severity.WARNING), ("Warn", Severity.WARNING),
    ("average", Severity.WARNING), ("minor", Severity.WARNING), ("p3", Severity.WARNING),
    ("info", Severity.INFO), ("INFORMATIONAL", Severity.INFO), ("notice", Severity.INFO),
    ("P4", Severity.INFO), ("ok", Severity.INFO),
    ("low", Severity.LOW), ("debug", Severity.LOW), ("P5", Severity.LOW), ("sev5", Severity.LOW),
    ("lowest", Severity.LOW),
    ("bogus", Severity.WARNING), ("", Severity.WARNING), ("   ", Severity.WARNING),
    (None, Severity.WARNING), (42, Severity.WARNING), ("P6", Severity.WARNING),
])
def test_severity_vocabulary(word: object, severity: Severity) -> None:
    assert parse_severity(word) == severity


def test_severity_default_is_configurable() -> None:
    assert parse_severity("bogus", Severity.INFO) == Severity.INFO
    assert parse_severity(None, Severity.LOW) == Severity.LOW
    assert parse_severity("critical", Severity.LOW) == Severity.CRITICAL


def test_severity_order() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.WARNING > Severity.INFO > Severity.LOW
    assert Severity.CRITICAL.label == "critical"


# --- bad input ------------------------------------------------------------------------------


def assert_invalid(exc: InvalidInput, field: str) -> None:
    assert isinstance(exc, VigilError)
    assert exc.status_code == 422
    assert exc.field == field
    assert exc.message.startswith(field)
    assert exc.to_dict()["error"]["field"] == field
    if exc.details:
        assert exc.details[0]["field"] == field


ALERT: dict[str, Any] = {"status": "firing", "labels": {"alertname": "A"}}

AM_BAD: list[tuple[Any, str]] = [
    ({}, "alerts"),
    ({"alerts": []}, "alerts"),
    ({"alerts": "x"}, "alerts"),
    ({"alerts": None}, "alerts"),
    ([], "body"),
    ("text", "body"),
    (None, "body"),
    (42, "body"),
    ({"alerts": [5]}, "alerts[0]"),
    ({"alerts": [{"status": "firing", "labels": {}}]}, "alerts[0].labels"),
    ({"alerts": [{"status": "firing"}]}, "alerts[0].labels"),
    ({"alerts": [{"status": "firing", "labels": ["a"]}]}, "alerts[0].labels"),
    ({"alerts": [{"status": "pending", "labels": {"a": "b"}}]}, "alerts[0].status"),
    ({"alerts": [{"labels": {"a": "b"}}]}, "alerts[0].status"),
    ({"alerts": [{"status": "firing", "labels": {"a": 1}}]}, "alerts[0].labels.a"),
    ({"alerts": [{**ALERT, "annotations": {"x": None}}]}, "alerts[0].annotations.x"),
    ({"alerts": [{**ALERT, "startsAt": "nope"}]}, "alerts[0].startsAt"),
    ({"alerts": [{**ALERT, "generatorURL": 5}]}, "alerts[0].generatorURL"),
    ({"alerts": [ALERT, {"labels": {"a": "b"}}]}, "alerts[1].status"),
    ({"alerts": [ALERT], "commonLabels": "x"}, "commonLabels"),
]


@pytest.mark.parametrize(("payload", "field"), AM_BAD)
def test_alertmanager_bad_input(payload: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        alertmanager.parse(payload, {})
    assert_invalid(err.value, field)


def test_alertmanager_bad_fixture_input_names_the_alert() -> None:
    payload = load("alertmanager", "mixed.json")
    payload["alerts"][1]["status"] = "pending"
    with pytest.raises(InvalidInput) as err:
        alertmanager.parse(payload, {})
    assert_invalid(err.value, "alerts[1].status")
    del payload["alerts"][0]["labels"]
    with pytest.raises(InvalidInput) as err:
        alertmanager.parse(payload, {})
    assert err.value.field == "alerts[0].labels"
    assert {d["field"] for d in err.value.details} == {"alerts[0].labels", "alerts[1].status"}


GRAFANA_BAD: list[tuple[Any, str]] = [
    *AM_BAD,
    ({"alerts": [{**ALERT, "values": [1]}]}, "alerts[0].values"),
    # pydantic's union member tag ends up in the field name
    ({"alerts": [{**ALERT, "values": {"B": "x"}}]}, "alerts[0].values.B.float"),
    ({"alerts": [{**ALERT, "dashboardURL": 1}]}, "alerts[0].dashboardURL"),
    ({"alerts": [{**ALERT, "valueString": []}]}, "alerts[0].valueString"),
    ({"alerts": [ALERT], "orgId": "x"}, "orgId"),
    ({"alerts": [ALERT], "title": 5}, "title"),
]


@pytest.mark.parametrize(("payload", "field"), GRAFANA_BAD)
def test_grafana_bad_input(payload: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        grafana.parse(payload, {})
    assert_invalid(err.value, field)


PD_OK_PAYLOAD = {"summary": "s", "source": "h", "severity": "info"}

PD_BAD: list[tuple[Any, str]] = [
    ({}, "routing_key"),
    ([], "body"),
    ("text", "body"),
    (None, "body"),
    ({"routing_key": 5, "event_action": "trigger"}, "routing_key"),
    ({"routing_key": "", "event_action": "trigger", "payload": PD_OK_PAYLOAD}, "routing_key"),
    ({"routing_key": "k" * 65, "event_action": "trigger", "payload": PD_OK_PAYLOAD},
     "routing_key"),
    ({"routing_key": "k", "payload": PD_OK_PAYLOAD}, "event_action"),
    ({"routing_key": "k", "event_action": "bogus"}, "event_action"),
    ({"routing_key": "k", "event_action": "TRIGGER", "payload": PD_OK_PAYLOAD}, "event_action"),
    ({"routing_key": "k", "event_action": "trigger"}, "payload"),
    ({"routing_key": "k", "event_action": "acknowledge"}, "dedup_key"),
    ({"routing_key": "k", "event_action": "resolve", "dedup_key": ""}, "dedup_key"),
    ({"routing_key": "k", "event_action": "resolve", "dedup_key": "d" * 256}, "dedup_key"),
    ({"routing_key": "k", "event_action": "trigger", "payload": "x"}, "payload"),
    ({"routing_key": "k", "event_action": "trigger",
      "payload": {**PD_OK_PAYLOAD, "severity": "high"}}, "payload.severity"),
    ({"routing_key": "k", "event_action": "trigger",
      "payload": {**PD_OK_PAYLOAD, "severity": None}}, "payload.severity"),
    ({"routing_key": "k", "event_action": "trigger",
      "payload": {"source": "h", "severity": "info"}}, "payload.summary"),
    ({"routing_key": "k", "event_action": "trigger",
      "payload": {**PD_OK_PAYLOAD, "summary": ""}}, "payload.summary"),
    ({"routing_key": "k", "event_action": "trigger",
      "payload": {**PD_OK_PAYLOAD, "summary": "s" * 1025}}, "payload.summary"),
    ({"routing_key": "k", "event_action": "trigger",
      "payload": {"summary": "s", "severity": "info"}}, "payload.source"),
    ({"routing_key": "k", "event_action": "trigger",
      "payload": {**PD_OK_PAYLOAD, "timestamp": "x"}}, "payload.timestamp"),
    ({"routing_key": "k", "event_action": "trigger",
      "payload": {**PD_OK_PAYLOAD, "class": 3}}, "payload.class"),
    ({"routing_key": "k", "event_action": "trigger", "payload": PD_OK_PAYLOAD,
      "links": [{"text": "x"}]}, "links[0].href"),
    ({"routing_key": "k", "event_action": "trigger", "payload": PD_OK_PAYLOAD,
      "links": "x"}, "links"),
    ({"routing_key": "k", "event_action": "trigger", "payload": PD_OK_PAYLOAD,
      "images": [{"src": "a"}, {}]}, "images[1].src"),
]


@pytest.mark.parametrize(("payload", "field"), PD_BAD)
def test_pagerduty_bad_input(payload: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        pagerduty.parse_event(payload)
    assert_invalid(err.value, field)


def test_pagerduty_bad_input_lists_every_error() -> None:
    with pytest.raises(InvalidInput) as err:
        pagerduty.parse_event({})
    assert [d["field"] for d in err.value.details] == ["routing_key", "event_action"]


def test_pagerduty_bad_fixture_severity() -> None:
    payload = load("pagerduty", "alertmanager_trigger.json")
    payload["payload"]["severity"] = "warn"
    with pytest.raises(InvalidInput) as err:
        pagerduty.parse_event(payload)
    assert_invalid(err.value, "payload.severity")


OG_BAD: list[tuple[Any, str]] = [
    ({}, "message"),
    ([], "body"),
    ("text", "body"),
    (None, "body"),
    ({"message": ""}, "message"),
    ({"message": 5}, "message"),
    ({"message": "m" * 131}, "message"),
    ({"message": "m", "priority": "P6"}, "priority"),
    ({"message": "m", "priority": "p1"}, "priority"),
    ({"message": "m", "priority": 1}, "priority"),
    ({"message": "m", "tags": ["t"] * 21}, "tags"),
    ({"message": "m", "tags": "a,b"}, "tags"),
    ({"message": "m", "tags": ["a", 1]}, "tags[1]"),
    ({"message": "m", "details": "x"}, "details"),
    ({"message": "m", "alias": "a" * 513}, "alias"),
    ({"message": "m", "description": "d" * 15001}, "description"),
    ({"message": "m", "user": ["u"]}, "user"),
]


@pytest.mark.parametrize(("payload", "field"), OG_BAD)
def test_opsgenie_create_bad_input(payload: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        opsgenie.parse_create(payload)
    assert_invalid(err.value, field)


@pytest.mark.parametrize(("payload", "field"), [
    ([], "body"),
    ("text", "body"),
    (3, "body"),
    ({"user": 5}, "user"),
    ({"source": {}}, "source"),
    ({"note": "n" * 25001}, "note"),
])
def test_opsgenie_action_bad_input(payload: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        opsgenie.parse_action(payload)
    assert_invalid(err.value, field)


GENERIC_BAD: list[tuple[Any, dict[str, Any], str]] = [
    ("text", {}, "body"),
    (5, {}, "body"),
    (None, {}, "body"),
    (True, {}, "body"),
    ([], {}, "body"),
    ([1], {}, "[0]"),
    ([{"title": "a"}, 5], {}, "[1]"),
    ({}, {}, "body.title"),
    ({"title": ""}, {}, "body.title"),
    ({"title": None}, {}, "body.title"),
    ({"title": {"a": 1}}, {}, "body.title"),
    ({"title": [1]}, {}, "body.title"),
    ({"title": "t"}, {"title": "$.msg"}, "body.title"),
    ([{"title": "a"}, {}], {}, "[1].title"),
    ([{}, {"title": "b"}], {}, "[0].title"),
    ([{"title": "a"}, {"title": {"x": 1}}], {}, "[1].title"),
]


@pytest.mark.parametrize(("payload", "config", "field"), GENERIC_BAD)
def test_generic_bad_input(payload: Any, config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        generic.parse(payload, config)
    assert err.value.status_code == 422
    assert err.value.field == field


def test_generic_bad_fixture_element_names_its_index() -> None:
    payload = load("generic", "array_of_alerts.json")
    del payload[2]["title"]
    with pytest.raises(InvalidInput) as err:
        generic.parse(payload, ARRAY_MAPPING)
    assert err.value.field == "[2].title"


@pytest.mark.parametrize(("config", "field"), [
    ({"title": "$["}, "config.title"),
    ({"severity": "$.[?(@.a =="}, "config.severity"),
    ({"title": 5}, "config.title"),
    ({"bogus": "$.x"}, "config.bogus"),
    ({"resolve_values": "x"}, "config.resolve_values"),
    ({"acknowledge_values": [1]}, "config.acknowledge_values[0]"),
])
def test_generic_validate_config_bad(config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        generic.validate_config(config)
    assert_invalid(err.value, field)


# --- regressions ------------------------------------------------------------------------------

LATE = "9999-12-31T23:00:00-05:00"  # valid ISO 8601, but past datetime.max once in UTC


@pytest.mark.parametrize("field", ["startsAt", "endsAt"])
def test_alertmanager_timestamp_out_of_range_is_422_naming_it(field: str) -> None:
    alert = {"status": "resolved", "labels": {"alertname": "A"}, field: LATE}
    with pytest.raises(InvalidInput) as err:
        alertmanager.parse({"alerts": [alert]}, {})
    assert err.value.field == f"alerts[0].{field}"


def test_grafana_timestamp_out_of_range_is_422_naming_it() -> None:
    alert = {"status": "firing", "labels": {"alertname": "A"}, "startsAt": LATE}
    with pytest.raises(InvalidInput) as err:
        grafana.parse({"alerts": [alert]}, {})
    assert err.value.field == "alerts[0].startsAt"


def test_pagerduty_timestamp_out_of_range_is_422_naming_it() -> None:
    payload = load("pagerduty", "trigger.json")
    payload["payload"]["timestamp"] = LATE
    with pytest.raises(InvalidInput) as err:
        pagerduty.parse_event(payload)
    assert err.value.field == "payload.timestamp"


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


#: orjson.loads accepts nesting up to 1024, but orjson.dumps (base._json_text) refuses more
#: than 254 levels; ints beyond 64 bits it refuses too. Once a 500, now a 422 naming "body".
DEEP = _nested(300)
HUGE = 2**70


def _pd_with_details(details: Any) -> None:
    payload = {"routing_key": "k", "event_action": "trigger",
               "payload": {**PD_OK_PAYLOAD, "custom_details": details}}
    pagerduty.to_alert_event(pagerduty.parse_event(payload), payload)


@pytest.mark.parametrize("value", [DEEP, [HUGE]], ids=["deep", "huge-int"])
@pytest.mark.parametrize("target", ["generic-description", "generic-labels", "pagerduty",
                                    "pagerduty-not-an-object", "opsgenie"])
def test_unstorable_detail_values_are_invalid_input(target: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        if target == "generic-description":
            generic.parse({"title": "t", "description": value}, {})
        elif target == "generic-labels":
            generic.parse({"title": "t", "labels": {"a": value}}, {})
        elif target == "pagerduty":
            _pd_with_details({"a": value})
        elif target == "pagerduty-not-an-object":
            _pd_with_details(value)
        else:
            opsgenie.parse_create({"message": "m", "details": {"a": value}})
    assert err.value.status_code == 422
    assert err.value.field == "body"
    assert "cannot be stored" in err.value.message


def test_detail_values_just_inside_the_serializer_limits_are_kept() -> None:
    (ev,) = generic.parse({"title": "t", "description": _nested(254)}, {})
    assert ev.description == "[" * 254 + "]" * 254
    big = 2**64 - 1
    assert opsgenie.parse_create({"message": "m", "details": {"a": big}}).annotations["a"] == (
        str(big))
