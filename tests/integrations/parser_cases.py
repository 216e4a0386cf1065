"""Shared by the parser tests (tests/integrations/test_parsers_*.py): the captured fixture
files, the tests' own oracles (severity words, timestamps, links), the generic field
mappings fixtures/README.md documents, per-format checks of an event against its payload,
and the bad-input assertions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from conftest import fixture_path
from vigil.core.event import AlertEvent
from vigil.core.severity import Severity
from vigil.errors import InvalidInput, VigilError
from vigil.integrations.pagerduty import parser as pagerduty


def load(integration: str, name: str) -> Any:
    return json.loads(fixture_path(integration, name).read_bytes())


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


def assert_utc(value: datetime | None) -> None:
    if value is not None:
        assert value.tzinfo is not None
        assert value.utcoffset() is not None
        assert value.utcoffset() == UTC.utcoffset(None)


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


# --- PagerDuty ------------------------------------------------------------------------------


def pd(payload: dict[str, Any]) -> AlertEvent:
    return pagerduty.to_alert_event(pagerduty.parse_event(payload), payload)


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


PD_OK_PAYLOAD = {"summary": "s", "source": "h", "severity": "info"}


# --- regressions ------------------------------------------------------------------------------

LATE = "9999-12-31T23:00:00-05:00"  # valid ISO 8601, but past datetime.max once in UTC
