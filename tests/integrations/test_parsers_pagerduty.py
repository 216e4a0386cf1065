"""The PagerDuty Events API v2 parser: trigger, acknowledge and resolve, Alertmanager's
PagerDuty receiver, severities, custom details, dedup keys, fingerprints, bad input and
out-of-range timestamps.

Expected values are read from the payloads themselves or spelled out literally, never from
the parser under test.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from parser_cases import (
    LATE,
    PD_OK_PAYLOAD,
    PD_SEVERITY,
    assert_invalid,
    assert_utc,
    load,
    pd,
)

from vigil.core.event import Action
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.errors import InvalidInput
from vigil.integrations.pagerduty import parser as pagerduty


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


def test_pagerduty_trigger_acknowledge_resolve_share_a_fingerprint() -> None:
    fps = {fingerprint(pd(load("pagerduty", n)), integration_id=8)
           for n in ("trigger.json", "acknowledge.json", "resolve.json")}
    assert len(fps) == 1


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


def test_pagerduty_timestamp_out_of_range_is_422_naming_it() -> None:
    payload = load("pagerduty", "trigger.json")
    payload["payload"]["timestamp"] = LATE
    with pytest.raises(InvalidInput) as err:
        pagerduty.parse_event(payload)
    assert err.value.field == "payload.timestamp"
