"""Incidents from real ingest, and their lifecycle through the API, on both databases."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from conftest import Harness
from incident_api import act, alert, am, detail, incidents


def test_an_alert_group_becomes_one_incident(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("HighLatency", instance="a"),
                               alert("HighLatency", instance="b", severity="critical")))
    vigil.post_alertmanager(am(alert("DiskFull", service="db")))
    items = incidents(vigil)
    assert [(i["reference"], i["title"], i["alert_count"]) for i in items] == [
        ("INC-2", "DiskFull on db", 1), ("INC-1", "HighLatency on checkout", 2)]
    inc = detail(vigil, items[1]["id"])
    assert inc["status"] == "firing"
    assert inc["severity"] == "critical"  # the highest of its alerts
    assert inc["services"] == ["checkout"] and inc["sources"] == ["alertmanager"]
    assert len(inc["alerts"]) == 2
    assert [t["kind"] for t in inc["timeline"]] == ["created", "alert_added"]


def test_incident_resolves_when_all_its_alerts_resolve_and_reopens(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("Err", instance="a"), alert("Err", instance="b")))
    (inc,) = incidents(vigil)
    vigil.clock.advance(minutes=1)
    vigil.post_alertmanager(am(alert("Err", "resolved", instance="a")))
    assert detail(vigil, inc["id"])["status"] == "firing"
    vigil.post_alertmanager(am(alert("Err", "resolved", instance="b")))
    resolved = detail(vigil, inc["id"])
    assert resolved["status"] == "resolved" and resolved["open_alert_count"] == 0
    assert resolved["resolved_at"] is not None

    vigil.clock.advance(minutes=5)  # inside the 30-minute reopen window
    vigil.post_alertmanager(am(alert("Err", instance="c")))
    assert len(incidents(vigil)) == 1
    again = detail(vigil, inc["id"])
    assert again["status"] == "firing" and again["alert_count"] == 3
    assert [t["kind"] for t in again["timeline"]][-3:] == ["resolved", "reopened", "alert_added"]

    vigil.post_alertmanager(am(alert("Err", "resolved", instance="c")))
    vigil.clock.advance(hours=1)  # past the reopen window: a new incident
    vigil.post_alertmanager(am(alert("Err", instance="d")))
    assert [i["reference"] for i in incidents(vigil)] == ["INC-2", "INC-1"]


def test_alerts_joining_later_batches_update_counts_and_raise_severity(vigil: Harness) -> None:
    """Each request is its own batch: the writer updates only the counters of an incident
    an alert joins, and its severity and status too when those change."""
    vigil.post_alertmanager(am(alert("Slow", instance="a")))
    (inc,) = incidents(vigil)
    first = detail(vigil, inc["id"])
    vigil.clock.advance(minutes=1)
    vigil.post_alertmanager(am(alert("Slow", instance="b", severity="info")))
    joined = detail(vigil, inc["id"])
    assert (joined["alert_count"], joined["open_alert_count"], joined["severity"]) == (
        2, 2, "warning")
    assert joined["last_seen_at"] > first["last_seen_at"]
    vigil.clock.advance(minutes=1)
    vigil.post_alertmanager(am(alert("Slow", instance="c", severity="critical")))
    raised = detail(vigil, inc["id"])
    assert (raised["alert_count"], raised["severity"]) == (3, "critical")
    assert raised["last_seen_at"] > joined["last_seen_at"]
    vigil.post_alertmanager(am(*(alert("Slow", "resolved", instance=i, severity=sev)
                                 for i, sev in (("a", "warning"), ("b", "info"),
                                                ("c", "critical")))))
    done = detail(vigil, inc["id"])
    assert (done["status"], done["open_alert_count"], done["alert_count"]) == (
        "resolved", 0, 3)


def test_lifecycle_actions_and_illegal_transitions(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("Boom")))
    (inc,) = incidents(vigil)
    iid = inc["id"]
    ack = act(vigil, iid, "acknowledge", note="on it")
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert act(vigil, iid, "acknowledge").status_code == 200  # idempotent
    assert act(vigil, iid, "investigate").json()["status"] == "investigating"
    assert act(vigil, iid, "reopen").status_code == 409
    done = act(vigil, iid, "resolve", note="rolled back the deploy")
    assert done.json()["status"] == "resolved"
    assert done.json()["resolution"] == "rolled back the deploy"
    conflict = act(vigil, iid, "acknowledge")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["message"] == "cannot acknowledge an incident that is resolved"
    assert act(vigil, iid, "close").json()["status"] == "closed"
    assert act(vigil, iid, "reopen").status_code == 409
    kinds = [t["kind"] for t in detail(vigil, iid)["timeline"]]
    assert kinds == ["created", "acknowledged", "investigating", "resolved", "closed"]
    first = detail(vigil, iid)["timeline"][1]
    assert first["actor"] == "apikey:test admin"
    assert first["before"]["status"] == "firing" and first["after"]["status"] == "acknowledged"


def test_concurrent_acknowledges_are_idempotent(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("Boom")))
    (inc,) = incidents(vigil)
    codes: list[int] = []

    def ack() -> None:
        codes.append(act(vigil, inc["id"], "acknowledge").status_code)

    threads = [threading.Thread(target=ack) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 8
    kinds = [t["kind"] for t in detail(vigil, inc["id"])["timeline"]]
    assert kinds.count("acknowledged") == 1


def test_comments_and_updates_are_on_the_timeline(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("Boom")))
    (inc,) = incidents(vigil)
    iid = inc["id"]
    made = vigil.client.post(f"/api/v1/incidents/{iid}/comments", headers=vigil.auth,
                             json={"text": "DB failover in progress"})
    assert made.status_code == 201 and made.json()["kind"] == "comment"
    upd = vigil.client.patch(f"/api/v1/incidents/{iid}", headers=vigil.auth,
                             json={"severity": "critical", "priority": "P1",
                                   "assignee": "alice"})
    assert upd.status_code == 200
    body = upd.json()
    assert (body["severity"], body["priority"], body["assignee"]) == ("critical", "P1", "alice")
    last = body["timeline"][-1]
    assert last["kind"] == "updated" and last["before"]["severity"] == "warning"
    assert last["after"]["assignee"] == "alice"
    assert [t["kind"] for t in body["timeline"]] == ["created", "comment", "updated"]
    bad = vigil.client.patch(f"/api/v1/incidents/{iid}", headers=vigil.auth,
                             json={"severity": "apocalyptic"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "severity"
    unknown = vigil.client.patch(f"/api/v1/incidents/{iid}", headers=vigil.auth,
                                 json={"colour": "red"})
    assert unknown.status_code == 422


def test_filters_counts_and_pagination(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("A", service="web", severity="critical")))
    vigil.clock.advance(seconds=1)
    vigil.post_alertmanager(am(alert("B", service="db")))
    vigil.clock.advance(seconds=1)
    vigil.post_alertmanager(am(alert("C", service="db", severity="info")))
    ids = {i["title"]: i["id"] for i in incidents(vigil)}
    act(vigil, ids["B on db"], "acknowledge")
    titles = lambda **p: [i["title"] for i in incidents(vigil, **p)]  # noqa: E731
    assert titles(status="acknowledged") == ["B on db"]
    assert titles(severity="critical") == ["A on web"]
    assert titles(service="db") == ["C on db", "B on db"]
    assert titles(q="C on") == ["C on db"]
    assert titles(sort="severity") == ["C on db", "B on db", "A on web"]
    page = vigil.client.get("/api/v1/incidents", params={"limit": 2},
                            headers=vigil.auth).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = vigil.client.get("/api/v1/incidents", params={"limit": 2,
                                                          "cursor": page["next_cursor"]},
                            headers=vigil.auth).json()
    assert [i["title"] for i in rest["items"]] == ["A on web"] and rest["next_cursor"] is None
    counts = vigil.client.get("/api/v1/incidents/counts", headers=vigil.auth).json()
    assert counts["firing"] == 2 and counts["acknowledged"] == 1 and counts["resolved"] == 0
    bad = vigil.client.get("/api/v1/incidents", params={"status": "on fire"},
                           headers=vigil.auth)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "status"


def test_roles_and_unknown_incidents(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("Boom")))
    (inc,) = incidents(vigil)
    viewer = {"Authorization": f"Bearer {vigil.key_for('viewer')}"}
    assert vigil.client.get(f"/api/v1/incidents/{inc['id']}", headers=viewer).status_code == 200
    denied = vigil.client.post(f"/api/v1/incidents/{inc['id']}/acknowledge", headers=viewer)
    assert denied.status_code == 403
    assert vigil.client.get("/api/v1/incidents/9999", headers=vigil.auth).status_code == 404
    assert act(vigil, 9999, "resolve").status_code == 404


def test_alerts_joining_in_one_batch_make_one_timeline_entry(vigil: Harness) -> None:
    vigil.post_alertmanager(am(*[alert("Flood", instance=str(i)) for i in range(5)]))
    vigil.clock.advance(seconds=30)
    vigil.post_alertmanager(am(alert("Flood", instance="late")))
    (inc,) = incidents(vigil)
    timeline = detail(vigil, inc["id"])["timeline"]
    assert [(t["kind"], t["message"]) for t in timeline] == [
        ("created", "Opened by alert Flood"),
        ("alert_added", "4 alerts joined: Flood, Flood, Flood, Flood"),
        ("alert_added", "Alert Flood joined"),
    ]
    assert timeline[1]["before"]["alert_count"] == 1
    assert timeline[1]["after"]["alert_count"] == 5


def test_merge_moves_alerts_and_records_both_timelines(vigil: Harness) -> None:
    vigil.post_alertmanager(am(alert("ApiDown", service="api", severity="critical")))
    vigil.post_alertmanager(am(alert("DbDown", service="db"), alert("DbDown", service="db",
                                                                     instance="2")))
    by_title = {i["title"]: i for i in incidents(vigil)}
    src, tgt = by_title["DbDown on db"], by_title["ApiDown on api"]
    resp = vigil.client.post(f"/api/v1/incidents/{src['id']}/merge", headers=vigil.auth,
                             json={"into": tgt["id"]})
    assert resp.status_code == 200, resp.text
    merged = resp.json()
    assert merged["alert_count"] == 3 and len(merged["alerts"]) == 3
    assert sorted(merged["services"]) == ["api", "db"] and merged["severity"] == "critical"
    assert merged["timeline"][-1]["kind"] == "merged_in"
    gone = detail(vigil, src["id"])
    assert gone["status"] == "merged" and gone["alerts"] == []
    assert gone["timeline"][-1]["message"].startswith(f"Merged into {tgt['reference']}")
    again = vigil.client.post(f"/api/v1/incidents/{src['id']}/merge", headers=vigil.auth,
                              json={"into": tgt["id"]})
    assert again.status_code == 409
    self_merge = vigil.client.post(f"/api/v1/incidents/{tgt['id']}/merge", headers=vigil.auth,
                                   json={"into": tgt["id"]})
    assert self_merge.status_code == 422 and self_merge.json()["error"]["field"] == "into"
    # a new alert of the merged group opens a fresh incident, not the merged one
    vigil.post_alertmanager(am(alert("DbDown", service="db", instance="3")))
    assert len(incidents(vigil, status="firing")) == 2


def test_simulate_creates_a_realistic_incident_through_the_pipeline(vigil: Harness) -> None:
    resp = vigil.client.post("/api/v1/incidents/simulate", headers=vigil.auth,
                             json={"scenario": "database", "alerts": 4})
    assert resp.status_code == 201, resp.text
    inc = resp.json()
    assert inc["alert_count"] == 4 and inc["services"] == ["postgres"]
    assert all(a["labels"]["vigil_simulation"] == "true" for a in inc["alerts"])
    assert inc["sources"] == ["simulate"]
    second = vigil.client.post("/api/v1/incidents/simulate", headers=vigil.auth).json()
    assert second["id"] != inc["id"] and second["title"].startswith("p99 latency")
    bad = vigil.client.post("/api/v1/incidents/simulate", headers=vigil.auth,
                            json={"scenario": "alien invasion"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "scenario"


# --- resolving by hand resolves the incident's alerts ---------------------------------------

T_START = "2026-03-01T11:50:00Z"


def fired(name: str, instance: str, status: str = "firing") -> dict[str, Any]:
    """An Alertmanager alert with its startsAt, as Alertmanager sends them."""
    return {**alert(name, status, instance=instance), "startsAt": T_START}


def alert_rows(h: Harness) -> dict[str, Any]:
    """instance label -> the alert's row (the latest alert of each), from the database."""
    from sqlalchemy import select

    from vigil.alerts.models import Alert

    with h.ctx.db.read() as s:
        return {a.labels["instance"]: SimpleNamespace(
            id=a.id, status=a.status, resolved_by=a.resolved_by, resolved_at=a.resolved_at,
            ends_at=a.ends_at, incident_id=a.incident_id)
            for a in s.scalars(select(Alert).order_by(Alert.id))}


def test_resolving_an_incident_resolves_its_open_alerts(vigil: Harness) -> None:
    vigil.post_alertmanager(am(fired("Err", "a"), fired("Err", "b"), fired("Err", "c")))
    vigil.clock.advance(minutes=1)
    vigil.post_alertmanager(am(fired("Err", "c", "resolved")))  # c ended at the source
    (inc,) = incidents(vigil)
    vigil.clock.advance(minutes=1)
    now = vigil.clock.now()
    done = act(vigil, inc["id"], "resolve", note="rolled back")
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["open_alert_count"], body["alert_count"]) == ("resolved", 0, 3)
    assert {a["status"] for a in body["alerts"]} == {"resolved"}
    assert body["timeline"][-1]["message"] == (
        "Resolved by apikey:test admin, with its 2 open alerts: rolled back")
    rows = alert_rows(vigil)
    for instance in ("a", "b"):
        a = rows[instance]
        assert (a.status, a.resolved_by, a.resolved_at, a.ends_at) == (
            "resolved", "apikey:test admin", now, now)
        events = vigil.client.get(f"/api/v1/alerts/{a.id}", headers=vigil.auth).json()["events"]
        assert (events[0]["action"], events[0]["outcome"], events[0]["actor"]) == (
            "resolve", "resolved", "apikey:test admin")
        assert events[0]["payload"] == {"action": "resolve", "via": "incident",
                                        "incident_id": inc["id"], "note": "rolled back"}
    assert rows["c"].resolved_by == "alertmanager"  # already resolved: left as it was
    assert act(vigil, inc["id"], "resolve").status_code == 200  # a repeat is a no-op

    # Still firing at the source, the alerts are re-sent: alerts again, and the incident
    # reopens (a person's resolve is not the source's; a stale re-send of c is nothing).
    vigil.clock.advance(minutes=2)
    again = vigil.post_alertmanager(am(fired("Err", "a"), fired("Err", "c"))).json()
    assert [a["outcome"] for a in again["alerts"]] == ["created", "ignored"]
    reopened = detail(vigil, inc["id"])
    assert (reopened["status"], reopened["open_alert_count"], reopened["alert_count"]) == (
        "firing", 1, 4)
    assert [t["kind"] for t in reopened["timeline"]][-3:] == [
        "resolved", "reopened", "alert_added"]


def test_resolving_with_resolve_alerts_false_leaves_them_open(vigil: Harness) -> None:
    vigil.post_alertmanager(am(fired("Err", "a"), fired("Err", "b")))
    (inc,) = incidents(vigil)
    iid = inc["id"]
    for bad in ({"json": {"resolve_alerts": "maybe"}},
                {"json": {"resolve_alerts": False}, "params": {"resolve_alerts": "true"}}):
        resp = vigil.client.post(f"/api/v1/incidents/{iid}/resolve", headers=vigil.auth,
                                 **bad)  # type: ignore[arg-type]
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["field"] == "resolve_alerts"
    assert detail(vigil, iid)["status"] == "firing"  # nothing of it applied

    done = vigil.client.post(f"/api/v1/incidents/{iid}/resolve", headers=vigil.auth,
                             params={"resolve_alerts": "false"})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["open_alert_count"]) == ("resolved", 2)
    assert {a.status for a in alert_rows(vigil).values()} == {"firing"}

    # Within the reopen window, an alert left open firing again reopens the incident ...
    vigil.clock.advance(minutes=5)
    resend = vigil.post_alertmanager(am(fired("Err", "a"))).json()["alerts"][0]
    assert resend["outcome"] == "redelivered"
    back = detail(vigil, iid)
    assert (back["status"], back["alert_count"], back["open_alert_count"]) == ("firing", 2, 2)
    assert [t["kind"] for t in back["timeline"]][-2:] == ["resolved", "reopened"]

    # ... past it, it opens a new incident and leaves the resolved one.
    resp = vigil.client.post(f"/api/v1/incidents/{iid}/resolve", headers=vigil.auth,
                             json={"resolve_alerts": False, "note": "known, fix tomorrow"})
    assert resp.status_code == 200 and resp.json()["status"] == "resolved"
    vigil.clock.advance(minutes=40)
    vigil.post_alertmanager(am(fired("Err", "b")))
    new, old = incidents(vigil)
    assert old["id"] == iid and new["id"] != iid
    assert (new["status"], new["alert_count"]) == ("firing", 1)
    old_now = detail(vigil, iid)
    assert (old_now["status"], old_now["alert_count"], old_now["open_alert_count"]) == (
        "resolved", 1, 1)
    assert old_now["timeline"][-1]["kind"] == "alert_moved"
    rows = alert_rows(vigil)
    assert (rows["b"].incident_id, rows["a"].incident_id) == (new["id"], iid)
    assert [a["id"] for a in detail(vigil, new["id"])["alerts"]] == [rows["b"].id]


def test_an_alert_left_open_firing_again_joins_its_groups_newer_incident(
        vigil: Harness) -> None:
    """The group's open incident is found for it (and, on SQLite, the writer's memory of
    incidents stays true), rather than a third incident being opened."""
    vigil.post_alertmanager(am(fired("Err", "a")))
    (first,) = incidents(vigil)
    act(vigil, first["id"], "resolve", resolve_alerts=False)
    vigil.clock.advance(minutes=40)
    vigil.post_alertmanager(am(fired("Err", "c")))  # a new incident for the group
    second, _ = incidents(vigil)
    vigil.clock.advance(minutes=1)
    vigil.post_alertmanager(am(fired("Err", "a")))
    vigil.post_alertmanager(am(fired("Err", "d")))
    assert [i["id"] for i in incidents(vigil)] == [second["id"], first["id"]]
    assert detail(vigil, second["id"])["alert_count"] == 3
    assert {k: a.incident_id for k, a in alert_rows(vigil).items()} == {
        "a": second["id"], "c": second["id"], "d": second["id"]}


def test_bulk_resolve_resolves_alerts_unless_told_not_to(vigil: Harness) -> None:
    vigil.post_alertmanager(am(fired("A", "1"), fired("B", "2", )))
    ids = sorted(i["id"] for i in incidents(vigil))
    bulk = lambda **body: vigil.client.post(  # noqa: E731
        "/api/v1/incidents/bulk", headers=vigil.auth, json=body)
    bad = bulk(ids=ids, action="acknowledge", resolve_alerts=False)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "resolve_alerts"
    kept = bulk(ids=ids[:1], action="resolve", resolve_alerts=False)
    assert kept.status_code == 200, kept.text
    done = bulk(ids=ids[1:], action="resolve")
    assert done.status_code == 200, done.text
    rows = alert_rows(vigil)
    assert {i: a.status for i, a in rows.items()} == {"1": "firing", "2": "resolved"}
