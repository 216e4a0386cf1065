"""The Grafana webhook parser: firing and resolved payloads, Grafana's extra links and values,
Alertmanager-shaped payloads, fingerprints, bad input and out-of-range timestamps.

Expected values are read from the payloads themselves or spelled out literally, never from
the parser under test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from parser_cases import (
    ALERT,
    AM_BAD,
    LATE,
    assert_invalid,
    load,
)

from vigil.core.event import Action
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.errors import InvalidInput
from vigil.integrations.alertmanager import parser as alertmanager
from vigil.integrations.grafana import parser as grafana

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


def test_grafana_firing_and_resolved_share_fingerprints() -> None:
    firing = grafana.parse(load("grafana", "firing.json"), {})
    resolved = grafana.parse(load("grafana", "resolved.json"), {})
    assert [fingerprint(e, integration_id=6) for e in firing] == [
        fingerprint(e, integration_id=6) for e in resolved
    ]


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


def test_grafana_timestamp_out_of_range_is_422_naming_it() -> None:
    alert = {"status": "firing", "labels": {"alertname": "A"}, "startsAt": LATE}
    with pytest.raises(InvalidInput) as err:
        grafana.parse({"alerts": [alert]}, {})
    assert err.value.field == "alerts[0].startsAt"
