"""Assignment rules, severity escalation over time, links, manual incidents with chosen
alerts and analytics, through the API and the real pipeline, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from conftest import Harness
from incident_api import act, alert, am, detail, incidents
from vigil import configfiles
from vigil.incidents.policies import AssignmentSpec, SeveritySpec
from vigil.tenants.models import DEFAULT_TENANT_ID
from vigil.worker.tick import tick


def post(h: Harness, path: str, body: dict[str, Any]) -> Any:
    return h.client.post(path, headers=h.auth, json=body)


def test_assignment_rules_route_new_incidents_by_category_and_severity(
        vigil: Harness) -> None:
    assert post(vigil, "/api/v1/correlation-rules", {
        "name": "db", "condition": 'labels.team == "db"', "group_by": ["name"],
        "category": "database"}).status_code == 201
    made = post(vigil, "/api/v1/assignment-rules", {
        "name": "databases to the DBAs", "categories": ["database"], "team": "dba",
        "escalation_policy": "dba-primary", "position": 1})
    assert made.status_code == 201, made.text
    assert post(vigil, "/api/v1/assignment-rules", {
        "name": "critical to SRE", "severities": ["critical"], "team": "sre",
        "escalation_policy": "sre-primary", "position": 2}).status_code == 201
    vigil.post_alertmanager(am(alert("ReplLag", team="db"),
                               alert("Down", service="api", severity="critical"),
                               alert("Slow", service="web")))
    by_title = {i["title"]: i for i in incidents(vigil)}
    assert (by_title["ReplLag on checkout"]["team"],
            by_title["ReplLag on checkout"]["escalation_policy"]) == ("dba", "dba-primary")
    assert (by_title["Down on api"]["team"], by_title["Down on api"]["escalation_policy"]) == (
        "sre", "sre-primary")
    assert by_title["Slow on web"]["team"] is None
    kinds = [t["kind"] for t in detail(vigil, by_title["Down on api"]["id"])["timeline"]]
    assert kinds == ["created", "assigned"]
    bad = post(vigil, "/api/v1/assignment-rules", {"name": "x", "categories": ["db"]})
    assert bad.status_code == 422
    dup = post(vigil, "/api/v1/assignment-rules", {"name": "critical to SRE", "team": "x"})
    assert dup.status_code == 409


def test_severity_rises_after_firing_long_enough_or_recurring_often(vigil: Harness) -> None:
    made = post(vigil, "/api/v1/severity-rules", {
        "name": "warning becomes high", "from_severity": "warning", "to_severity": "high",
        "after_minutes": 15, "after_occurrences": 4})
    assert made.status_code == 201, made.text
    post(vigil, "/api/v1/severity-rules", {
        "name": "high becomes critical", "from_severity": "high", "to_severity": "critical",
        "after_minutes": 60})
    vigil.post_alertmanager(am(alert("Slow", instance="a")))
    vigil.post_alertmanager(am(alert("Busy", service="db")))
    slow, = (i for i in incidents(vigil) if i["title"].startswith("Slow"))
    busy, = (i for i in incidents(vigil) if i["title"].startswith("Busy"))
    vigil.clock.advance(minutes=10)
    assert tick(vigil.ctx).counts["severity_escalations"] == 0
    # Busy recurs: occurrences reach 4 before 15 minutes.
    for minute in range(3):
        repeat = alert("Busy", service="db")
        repeat["startsAt"] = f"2026-03-01T12:1{minute}:00Z"
        vigil.post_alertmanager(am(repeat))
    assert tick(vigil.ctx).counts["severity_escalations"] == 1
    assert detail(vigil, busy["id"])["severity"] == "high"
    vigil.clock.advance(minutes=6)  # Slow has fired for 16 minutes
    assert tick(vigil.ctx).counts["severity_escalations"] == 1
    got = detail(vigil, slow["id"])
    assert got["severity"] == "high"
    last = got["timeline"][-1]
    assert (last["kind"], last["actor"]) == ("severity_escalated", "rule:warning becomes high")
    assert last["before"]["severity"] == "warning" and last["after"]["severity"] == "high"
    assert "firing for 16 minutes" in last["message"]
    # An acknowledged incident is not "firing": the next rule leaves it alone.
    act(vigil, slow["id"], "acknowledge")
    vigil.clock.advance(minutes=60)
    assert tick(vigil.ctx).counts["severity_escalations"] == 1  # Busy only
    assert detail(vigil, slow["id"])["severity"] == "high"
    assert detail(vigil, busy["id"])["severity"] == "critical"
    assert tick(vigil.ctx).counts["severity_escalations"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "from_severity": "high", "to_severity": "warning", "after_minutes": 5},
     "body"),
    ({"name": "x", "from_severity": "warning", "to_severity": "high"}, "body"),
    ({"name": "x", "from_severity": "meh", "to_severity": "high", "after_minutes": 5},
     "from_severity"),
    ({"name": "x", "from_severity": "warning", "to_severity": "high", "after_minutes": -1},
     "after_minutes"),
])
def test_bad_severity_rules_are_refused(vigil: Harness, body: dict[str, Any],
                                        field: str) -> None:
    resp = post(vigil, "/api/v1/severity-rules", body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == field


def test_policies_as_yaml(vigil: Harness, tmp_path: Any) -> None:
    (tmp_path / "p.yaml").write_text("""\
kind: AssignmentRule
name: network
categories: [network]
team: netops
---
kind: SeverityRule
name: escalate warnings
from_severity: warning
to_severity: high
after_minutes: 15
after_occurrences: 10
""")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    docs = configfiles.load([tmp_path])
    assert isinstance(docs[0].body, AssignmentSpec) and isinstance(docs[1].body, SeveritySpec)
    with vigil.ctx.db.write() as s:
        assert [o for *_, o in configfiles.apply(s, docs, tenant_id=DEFAULT_TENANT_ID,
                                                 now=now)] == ["created", "created"]
    with vigil.ctx.db.read() as s:
        text = configfiles.export(s, tenant_id=DEFAULT_TENANT_ID)
    assert "kind: SeverityRule" in text and "after_occurrences: 10" in text
    (tmp_path / "p.yaml").write_text(text)
    with vigil.ctx.db.write() as s:
        outcomes = {o for *_, o in configfiles.apply(s, configfiles.load([tmp_path]),
                                                     tenant_id=DEFAULT_TENANT_ID, now=now)}
    assert outcomes == {"unchanged"}


def test_links_and_manual_incident_with_chosen_alerts(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("A", instance="1"), alert("A", instance="2"),
                               alert("B", service="db")))
    a_inc, = (i for i in incidents(vigil) if i["title"].startswith("A"))
    b_inc, = (i for i in incidents(vigil) if i["title"].startswith("B"))
    linked = post(vigil, f"/api/v1/incidents/{a_inc['id']}/links",
                  {"incident_id": b_inc["id"]})
    assert linked.status_code == 200 and linked.json()["related_ids"] == [b_inc["id"]]
    assert detail(vigil, b_inc["id"])["related_ids"] == [a_inc["id"]]
    assert post(vigil, f"/api/v1/incidents/{a_inc['id']}/links",
                {"incident_id": a_inc["id"]}).status_code == 422
    gone = vigil.client.delete(f"/api/v1/incidents/{a_inc['id']}/links/{b_inc['id']}",
                               headers=vigil.auth)
    assert gone.json()["related_ids"] == []
    assert detail(vigil, b_inc["id"])["related_ids"] == []

    one_a = detail(vigil, a_inc["id"])["alerts"][0]["id"]
    made = post(vigil, "/api/v1/incidents", {"title": "Checkout outage",
                                             "alert_ids": [one_a]})
    assert made.status_code == 201, made.text
    assert made.json()["alert_count"] == 1 and made.json()["sources"] == ["alertmanager"]
    assert detail(vigil, a_inc["id"])["alert_count"] == 1
    missing = post(vigil, "/api/v1/incidents", {"title": "x", "alert_ids": [99999]})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "alert_ids[0]"
    assert not any(i["title"] == "x" for i in incidents(vigil))


def test_analytics_mtta_mttr_and_noise(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("A", severity="critical"), alert("B"), alert("C")))
    ids = {i["title"][0]: i["id"] for i in incidents(vigil)}
    vigil.clock.advance(minutes=2)
    act(vigil, ids["A"], "acknowledge")
    vigil.clock.advance(minutes=8)
    act(vigil, ids["A"], "resolve")
    act(vigil, ids["B"], "acknowledge")
    vigil.client.patch(f"/api/v1/incidents/{ids['C']}", headers=vigil.auth,
                       json={"noise": True})
    got = vigil.client.get("/api/v1/incidents/analytics", headers=vigil.auth).json()
    assert got["incidents"] == 3
    assert got["mtta"]["all"]["count"] == 2
    assert got["mtta"]["critical"]["mean_s"] == 120.0
    assert got["mtta"]["all"]["mean_s"] == (120 + 600) / 2
    assert got["mttr"]["critical"] == {"count": 1, "mean_s": 600.0, "median_s": 600.0,
                                       "p90_s": 600.0}
    assert got["noise"]["count"] == 1 and got["noise"]["rate"] == round(1 / 3, 4)
