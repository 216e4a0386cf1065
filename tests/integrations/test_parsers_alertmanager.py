"""The Alertmanager webhook parser: captured payloads to normalized alerts, the payload
version check (shared with Grafana), fingerprints of re-sent groups, bad input and
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
    AM_BAD,
    LATE,
    assert_invalid,
    assert_utc,
    load,
)

from vigil.core.event import Action
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.errors import InvalidInput
from vigil.integrations.alertmanager import parser as alertmanager
from vigil.integrations.grafana import parser as grafana

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


@pytest.mark.parametrize("field", ["startsAt", "endsAt"])
def test_alertmanager_timestamp_out_of_range_is_422_naming_it(field: str) -> None:
    alert = {"status": "resolved", "labels": {"alertname": "A"}, field: LATE}
    with pytest.raises(InvalidInput) as err:
        alertmanager.parse({"alerts": [alert]}, {})
    assert err.value.field == f"alerts[0].{field}"
