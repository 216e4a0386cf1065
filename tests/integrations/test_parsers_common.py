"""What every inbound parser shares: every captured fixture file parses to the payload's own
values, fingerprints are stable and identify by labels and integration, the severity
vocabulary, and detail values the serializer cannot store are invalid input.

Expected values are read from the payloads themselves, never from the parser under test.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from parser_cases import (
    ARRAY_MAPPING,
    DATADOG_MAPPING,
    KUMA_MAPPING,
    OG_PRIORITY,
    PD_OK_PAYLOAD,
    PD_SEVERITY,
    assert_utc,
    load,
    pd,
)

from conftest import FIXTURES
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity, parse_severity
from vigil.errors import InvalidInput
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


def first_label(labels: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if labels.get(key):
            return labels[key]
    return None


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
