"""Correlation rules through the API and the real pipeline, and the incident actions that
go with them (candidates, assignment, manual incidents, split, bulk), on both databases."""

from __future__ import annotations

from typing import Any

from conftest import Harness
from incident_api import act, alert, am, detail, incidents

RULES = "/api/v1/correlation-rules"


def make_rule(h: Harness, **body: Any) -> dict[str, Any]:
    resp = h.client.post(RULES, json=body, headers=h.auth)
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def test_rule_crud_and_validation(vigil: Harness) -> None:
    made = make_rule(vigil, name="prod-critical",
                     condition='labels.env == "prod" && severity in ["critical", "high"]',
                     group_by=["labels.cluster"], title_template="{{ labels.cluster }} down")
    assert made["indexed_by"] == "labels.env in ['prod']"
    assert made["window_minutes"] == 10 and made["resolve_on"] == "all"
    bad = vigil.client.post(RULES, json={"name": "x", "condition": "labels.env =="},
                            headers=vigil.auth)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "condition"
    assert "invalid CEL" in bad.json()["error"]["message"]
    bad_group = vigil.client.post(RULES, json={"name": "x", "group_by": ["nope"]},
                                  headers=vigil.auth)
    assert bad_group.status_code == 422 and bad_group.json()["error"]["field"] == "group_by[0]"
    bad_enum = vigil.client.post(RULES, json={"name": "x", "resolve_on": "sometimes"},
                                 headers=vigil.auth)
    assert bad_enum.status_code == 422 and bad_enum.json()["error"]["field"] == "resolve_on"
    dup = vigil.client.post(RULES, json={"name": "prod-critical"}, headers=vigil.auth)
    assert dup.status_code == 409
    # A bad change is refused and changes nothing.
    rid = made["id"]
    patch = vigil.client.patch(f"{RULES}/{rid}", json={"condition": "1 +", "position": 5},
                               headers=vigil.auth)
    assert patch.status_code == 422
    assert vigil.client.get(f"{RULES}/{rid}", headers=vigil.auth).json()["position"] == 100
    ok = vigil.client.patch(f"{RULES}/{rid}", json={"position": 5}, headers=vigil.auth)
    assert ok.status_code == 200 and ok.json()["position"] == 5
    viewer = {"Authorization": f"Bearer {vigil.key_for('viewer')}"}
    assert vigil.client.post(RULES, json={"name": "v"}, headers=viewer).status_code == 403
    assert [r["name"] for r in vigil.client.get(RULES, headers=viewer).json()] == [
        "prod-critical"]
    assert vigil.client.delete(f"{RULES}/{rid}", headers=vigil.auth).status_code == 204
    assert vigil.client.get(f"{RULES}/{rid}", headers=vigil.auth).status_code == 404


def test_rule_test_endpoint_names_rule_and_group(vigil: Harness) -> None:
    make_rule(vigil, name="db", condition='labels.team == "db"', group_by=["labels.cluster"],
              title_template="DB trouble in {{ labels.cluster }}")
    resp = vigil.client.post(f"{RULES}/test", headers=vigil.auth, json={"alert": {
        "labels": {"alertname": "ReplLag", "team": "db", "cluster": "eu"}}})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["rule"]["name"] == "db" and body["title"] == "DB trouble in eu"
    other = vigil.client.post(f"{RULES}/test", headers=vigil.auth, json={"alert": {
        "labels": {"alertname": "X", "team": "web"}}}).json()
    assert other["rule"] == {"id": None, "name": "default"}


def test_rule_groups_ingested_alerts_across_names(vigil: Harness) -> None:
    make_rule(vigil, name="by-cluster", condition='labels.env == "prod"',
              group_by=["labels.cluster"], title_template="Cluster {{ labels.cluster }}",
              category="system", team="platform", priority="P2")
    vigil.post_alertmanager(am(alert("HighLatency", env="prod", cluster="eu"),
                               alert("DiskFull", service="db", env="prod", cluster="eu"),
                               alert("DiskFull", service="db", env="prod", cluster="us"),
                               alert("Noise", env="dev", cluster="eu")))
    items = incidents(vigil)
    assert sorted((i["title"], i["alert_count"]) for i in items) == [
        ("Cluster eu", 2), ("Cluster us", 1), ("Noise on checkout", 1)]
    eu = next(i for i in items if i["title"] == "Cluster eu")
    assert (eu["category"], eu["team"], eu["priority"]) == ("system", "platform", "P2")
    assert eu["services"] == ["checkout", "db"] and eu["rule_id"] is not None


def test_threshold_rule_hides_the_incident_until_met(vigil: Harness) -> None:
    make_rule(vigil, name="three", condition='service == "checkout"', group_by=["service"],
              threshold_alerts=3)
    vigil.post_alertmanager(am(alert("A", instance="1"), alert("A", instance="2")))
    assert incidents(vigil) == []
    assert vigil.client.get("/api/v1/incidents/counts", headers=vigil.auth).json()[
        "firing"] == 0
    vigil.clock.advance(minutes=1)
    vigil.post_alertmanager(am(alert("A", instance="3")))
    (inc,) = incidents(vigil)
    assert inc["alert_count"] == 3 and not inc["pending"]
    assert [t["kind"] for t in detail(vigil, inc["id"])["timeline"]] == [
        "created", "alert_added", "alert_added", "activated"]


def test_candidate_incident_is_confirmed_or_dismissed(vigil: Harness) -> None:
    make_rule(vigil, name="review", condition='labels.kind == "anomaly"', group_by=["name"],
              require_approval=True)
    vigil.post_alertmanager(am(alert("Odd", kind="anomaly"), alert("Weird", kind="anomaly")))
    assert incidents(vigil) == []
    candidates = incidents(vigil, candidate="true")
    assert len(candidates) == 2 and all(c["candidate"] for c in candidates)
    counts = vigil.client.get("/api/v1/incidents/counts", headers=vigil.auth).json()
    assert counts["candidate"] == 2
    first, second = candidates
    confirmed = act(vigil, first["id"], "confirm")
    assert confirmed.status_code == 200 and not confirmed.json()["candidate"]
    assert act(vigil, first["id"], "confirm").status_code == 409  # not a candidate now
    assert [i["id"] for i in incidents(vigil)] == [first["id"]]
    dismissed = act(vigil, second["id"], "dismiss", note="expected batch job")
    assert dismissed.json()["status"] == "deleted"
    assert incidents(vigil, candidate="true") == []
    with vigil.ctx.db.read() as s:
        from sqlalchemy import select

        from vigil.outbox.models import OutboxEvent
        topics = [o.topic for o in s.scalars(select(OutboxEvent).where(
            OutboxEvent.topic.like("incident.%")).order_by(OutboxEvent.id))]
    assert topics.count("incident.candidate") == 2
    assert topics.count("incident.created") == 1  # only the confirmed one


def test_manual_incident_assign_and_custom_fields(vigil: Harness) -> None:
    resp = vigil.client.post("/api/v1/incidents", headers=vigil.auth, json={
        "title": "Payments degraded", "severity": "critical", "services": ["payments"],
        "custom_fields": {"customer_impact": True, "ticket": "OPS-12"}})
    assert resp.status_code == 201, resp.text
    inc = resp.json()
    assert (inc["type"], inc["status"], inc["reference"]) == ("manual", "firing", "INC-1")
    assert inc["custom_fields"] == {"customer_impact": True, "ticket": "OPS-12"}
    mine = act(vigil, inc["id"], "assign")
    assert mine.json()["assignee"] == "apikey:test admin"
    theirs = act(vigil, inc["id"], "assign", assignee="alice", team="payments")
    assert (theirs.json()["assignee"], theirs.json()["team"]) == ("alice", "payments")
    kinds = [t["kind"] for t in detail(vigil, inc["id"])["timeline"]]
    assert kinds == ["created", "assigned", "assigned"]
    bad = vigil.client.post("/api/v1/incidents", headers=vigil.auth,
                            json={"title": "x", "severity": "huge"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "severity"
    changed = vigil.client.patch(f"/api/v1/incidents/{inc['id']}", headers=vigil.auth,
                                 json={"custom_fields": {"ticket": "OPS-13"}})
    assert changed.json()["custom_fields"] == {"ticket": "OPS-13"}


def test_split_moves_alerts_into_a_new_incident(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("Err", instance="a"), alert("Err", instance="b"),
                               alert("Err", instance="c")))
    (inc,) = incidents(vigil)
    alerts = detail(vigil, inc["id"])["alerts"]
    ids = [a["id"] for a in alerts if a["labels"]["instance"] in ("b", "c")]
    resp = vigil.client.post(f"/api/v1/incidents/{inc['id']}/split", headers=vigil.auth,
                             json={"alert_ids": ids, "title": "Err on b and c"})
    assert resp.status_code == 201, resp.text
    new = resp.json()
    assert (new["title"], new["alert_count"], new["open_alert_count"]) == (
        "Err on b and c", 2, 2)
    assert sorted(a["id"] for a in new["alerts"]) == sorted(ids)
    old = detail(vigil, inc["id"])
    assert old["alert_count"] == 1 and old["timeline"][-1]["kind"] == "split"
    everything = [a["id"] for a in old["alerts"]]
    refused = vigil.client.post(f"/api/v1/incidents/{inc['id']}/split", headers=vigil.auth,
                                json={"alert_ids": everything})
    assert refused.status_code == 422
    foreign = vigil.client.post(f"/api/v1/incidents/{inc['id']}/split", headers=vigil.auth,
                                json={"alert_ids": [ids[0]]})
    assert foreign.status_code == 422 and foreign.json()["error"]["field"] == "alert_ids[0]"


def test_bulk_actions_apply_to_all_or_none(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("A"), alert("B"), alert("C")))
    ids = sorted(i["id"] for i in incidents(vigil))
    assert act(vigil, ids[2], "resolve").status_code == 200
    refused = vigil.client.post("/api/v1/incidents/bulk", headers=vigil.auth,
                                json={"ids": ids, "action": "acknowledge"})
    assert refused.status_code == 409
    assert refused.json()["error"]["field"] == "ids[2]"
    assert {i["status"] for i in incidents(vigil) if i["id"] != ids[2]} == {"firing"}
    missing = vigil.client.post("/api/v1/incidents/bulk", headers=vigil.auth,
                                json={"ids": [ids[0], 999999], "action": "acknowledge"})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "ids[1]"
    done = vigil.client.post("/api/v1/incidents/bulk", headers=vigil.auth,
                             json={"ids": ids[:2], "action": "acknowledge"})
    assert done.status_code == 200
    assert [i["status"] for i in done.json()] == ["acknowledged", "acknowledged"]
    noise = vigil.client.post("/api/v1/incidents/bulk", headers=vigil.auth,
                              json={"ids": ids[:2], "action": "mark_noise"})
    assert all(i["noise"] for i in noise.json())
