"""Silences: matchers (pure, by table) and muting in the real pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Harness
from vigil.errors import InvalidInput
from vigil.muting.matchers import matcher, parse

LABELS = {"alertname": "DiskFull", "service": "db", "env": "prod"}


@pytest.mark.parametrize(("text", "expected"), [
    ("service=db", True),
    ("service=web", False),
    ("service!=web", True),
    ("service!=db", False),
    ('alertname=~"Disk.*"', True),
    ("alertname=~Disk", False),  # anchored at both ends, as in Alertmanager
    ("alertname!~Cpu.*", True),
    ("team=", True),  # a missing label is the empty string
    ("team!=", False),
    ("env=~prod|staging", True),
])
def test_matchers(text: str, expected: bool) -> None:
    assert parse(text).matches(LABELS) is expected


@pytest.mark.parametrize(("text", "field"), [
    ("service", "matchers"),
    ("=db", "matchers"),
    ("9lives=x", "matchers.name"),
    ("alertname=~(", "matchers.value"),
])
def test_bad_matchers_name_the_problem(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse(text)
    assert err.value.field == field


def test_matcher_operator_is_checked() -> None:
    with pytest.raises(InvalidInput) as err:
        matcher("a", "==", "b")
    assert err.value.field == "matchers.op"


def am(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "alerts": list(alerts)}


def alert(name: str, service: str = "db", status: str = "firing", **labels: str) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, "service": service, **labels},
            "annotations": {"summary": name}}


def silence(h: Harness, **body: Any) -> Any:
    return h.client.post("/api/v1/silences", headers=h.auth, json=body)


def test_silenced_alerts_are_kept_as_suppressed_and_open_no_incident(vigil: Harness) -> None:
    made = silence(vigil, matchers=["service=db", 'alertname=~"Disk.*"'], duration_minutes=60,
                   comment="disk migration")
    assert made.status_code == 201, made.text
    assert made.json()["state"] == "active"
    resp = vigil.post_alertmanager(am(alert("DiskFull"), alert("DiskFull", service="web")))
    outcomes = [a["outcome"] for a in resp.json()["alerts"]]
    assert outcomes == ["suppressed", "created"]
    by_service = {a["service"]: a for a in vigil.alerts()}
    assert by_service["db"]["status"] == "suppressed"
    incidents = vigil.client.get("/api/v1/incidents", headers=vigil.auth).json()["items"]
    assert [i["services"] for i in incidents] == [["web"]]
    metrics = vigil.client.get("/metrics").text
    assert 'vigil_alerts_received_total{outcome="suppressed",source="alertmanager"} 1.0' \
        in metrics

    # The silence ends: the still-firing alert is no longer muted and opens an incident.
    vigil.clock.advance(minutes=61)
    again = vigil.post_alertmanager(am(alert("DiskFull")))
    assert again.json()["alerts"][0]["outcome"] == "unsuppressed"
    services = sorted(s for i in vigil.client.get("/api/v1/incidents", headers=vigil.auth)
                      .json()["items"] for s in i["services"])
    assert services.count("db") == 1
    listed = vigil.client.get("/api/v1/silences", params={"state": "expired"},
                              headers=vigil.auth).json()
    assert [s["comment"] for s in listed] == ["disk migration"]


def test_expiring_a_silence_stops_muting(vigil: Harness) -> None:
    sid = silence(vigil, matchers=[{"name": "service", "op": "=", "value": "db"}],
                  duration_minutes=30).json()["id"]
    assert vigil.client.delete(f"/api/v1/silences/{sid}", headers=vigil.auth).json()["state"] \
        == "expired"
    resp = vigil.post_alertmanager(am(alert("CpuHigh")))
    assert resp.json()["alerts"][0]["outcome"] == "created"


def test_bad_silences_are_refused_at_save_time(vigil: Harness) -> None:
    cases = [
        ({"matchers": ["alertname=~("], "duration_minutes": 5}, "matchers[0].value"),
        ({"matchers": ["service=db"]}, "ends_at"),
        ({"matchers": ["service=db"], "ends_at": "2020-01-01T00:00:00Z"}, "ends_at"),
        ({"matchers": ['alertname=~".*"'], "duration_minutes": 5}, "matchers"),
        ({"matchers": [], "duration_minutes": 5}, "matchers"),
        ({"matchers": ["service=db"], "duration_minutes": 0}, "duration_minutes"),
    ]
    for body, fld in cases:
        resp = silence(vigil, **body)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.json()["error"]["field"] == fld, body
    viewer = {"Authorization": f"Bearer {vigil.key_for('viewer')}"}
    denied = vigil.client.post("/api/v1/silences", headers=viewer,
                               json={"matchers": ["service=db"], "duration_minutes": 5})
    assert denied.status_code == 403
    assert vigil.client.delete("/api/v1/silences/999", headers=vigil.auth).status_code == 404


def test_silence_cache_follows_changes_and_expires_by_time(vigil: Harness) -> None:
    from vigil.configstate import versions_of
    from vigil.muting.schemas import SilenceCreate
    from vigil.muting.silences_service import create_silence
    from vigil.muting.store import active_silences, silence_cache

    cache = silence_cache(versions_of(vigil.ctx.db))
    now = vigil.clock.now()
    with vigil.ctx.db.read() as s:
        assert active_silences(cache, s.connection(), {1}, now) == []
    # a silence saved through the service is announced: the cache sees it at once
    with vigil.ctx.db.write() as s:
        create_silence(s, tenant_id=1, body=SilenceCreate(matchers=["service=db"],
                                                          duration_minutes=10),
                       actor="other node", now=now)
    with vigil.ctx.db.read() as s:
        (active,) = active_silences(cache, s.connection(), {1}, now)
        assert [m.text() for m in active.matchers] == ["service=db"]
        assert active_silences(cache, s.connection(), {2}, now) == []  # another tenant's
        later = vigil.clock.advance(minutes=11)
        assert active_silences(cache, s.connection(), {1}, later) == []  # expired by time
