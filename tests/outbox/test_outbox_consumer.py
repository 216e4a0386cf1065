"""The outbox's consumers never stall: every topic keeps its contract, an event a consumer
cannot handle is retried, parked with a timeline note and a VigilConsumerFailed self-alert,
and everything behind it still flows; /health says so while it happens; parked events are
listed and replayed. On both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from conftest import Harness
from incident_api import act, alert, am, detail, incidents
from paging import escalate, intents, people, setup
from vigil.incidents.models import IncidentEvent
from vigil.outbox.contracts import CONTRACTS, ContractError, validate
from vigil.outbox.models import OutboxCursor, OutboxEvent, OutboxFailure
from vigil.worker.consumers import consume
from vigil.worker.notifier import run_once
from vigil.worker.self_alerts import self_alerts


def outbox(h: Harness) -> list[OutboxEvent]:
    with h.ctx.db.read() as s:
        rows = list(s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))
        s.expunge_all()
        return rows


def failures(h: Harness) -> list[OutboxFailure]:
    with h.ctx.db.read() as s:
        rows = list(s.scalars(select(OutboxFailure).order_by(OutboxFailure.id)))
        s.expunge_all()
        return rows


def resolved(name: str, **labels: str) -> dict[str, Any]:
    a = alert(name, **labels)
    a["status"] = "resolved"
    a["endsAt"] = "2026-03-01T12:00:30Z"
    return a


def test_an_incident_that_resolved_by_itself_does_not_stop_later_pages(
        vigil: Harness) -> None:
    """The bug that stopped every page: correlation wrote ``previous`` as a string, the
    engine and the planner read a dict, and both failed on that event forever."""
    iid = setup(vigil)
    escalate(vigil)
    assert len(intents(vigil)) == 2
    vigil.post_alertmanager(am(resolved("Down", severity="critical")))
    assert detail(vigil, iid)["status"] == "resolved"
    escalate(vigil)
    run_once(vigil.ctx)
    vigil.post_alertmanager(am(alert("DiskFull", severity="critical", service="db")))
    assert escalate(vigil)["escalations_started"] == 1
    assert len(intents(vigil)) == 4  # the new incident pages
    # ... and the first reopens within the window and pages again, too.
    vigil.clock.advance(minutes=2)
    vigil.post_alertmanager(am(alert("Down", severity="critical")))
    assert detail(vigil, iid)["status"] == "firing"
    assert escalate(vigil)["escalations_started"] == 1
    assert len(intents(vigil)) == 6
    assert failures(vigil) == []
    with vigil.ctx.db.read() as s:
        cursors = {c.name: c.last_id for c in s.scalars(select(OutboxCursor))}
    assert cursors["escalation"] == max(e.id for e in outbox(vigil)
                                        if e.topic.startswith("incident."))


def test_every_producer_keeps_its_topics_contract(db_url: str, clock: Any) -> None:
    """Drive every producer of the outbox (ingest, correlation rules with candidates and
    thresholds, people's actions, the engine's pages, handoffs, alert events) and check
    every event against its topic's contract."""
    from conftest import make_harness

    gen = make_harness(db_url, clock, outbox_alert_events=True)
    h = next(gen)
    try:
        iid = setup(h)
        escalate(h)
        run_once(h.ctx)
        auth = h.auth
        assert h.client.post("/api/v1/correlation-rules", headers=auth, json={
            "name": "needs approval", "condition": 'service == "auth"',
            "require_approval": True}).status_code == 201
        h.post_alertmanager(am(alert("Login", service="auth", severity="high")))
        candidate = max(i["id"] for i in incidents(h))
        h.client.post(f"/api/v1/incidents/{candidate}/confirm", headers=auth)
        h.post_alertmanager(am(alert("Down", severity="critical", instance="b")))
        h.post_alertmanager(am(alert("Down", severity="critical", service="web2")))
        act(h, iid, "acknowledge")
        h.client.patch(f"/api/v1/incidents/{iid}", headers=auth, json={"priority": "P1"})
        h.client.post(f"/api/v1/incidents/{iid}/assign", headers=auth,
                      json={"assignee": "alice"})
        made = h.client.post("/api/v1/incidents", headers=auth, json={
            "title": "Declared by hand", "severity": "high"})
        assert made.status_code == 201, made.text
        h.client.post(f"/api/v1/incidents/{made.json()['id']}/merge", headers=auth,
                      json={"into": iid})
        act(h, iid, "resolve")
        act(h, iid, "reopen")
        h.post_alertmanager(am(resolved("Login", service="auth", severity="high")))
        h.post_alertmanager(am(alert("Flaky", severity="warning")))
        h.post_alertmanager(am(alert("Flaky", severity="warning")))
        h.clock.advance(minutes=40)
        escalate(h)
        run_once(h.ctx)
        seen: set[str] = set()
        for ev in outbox(h):
            validate(ev.topic, ev.payload)  # raises ContractError naming what is wrong
            seen.add(ev.topic)
        wanted = {"incident.created", "incident.candidate", "incident.updated",
                  "incident.status_changed", "incident.assigned", "incident.merged",
                  "notification.intent", "alert.created", "alert.repeated", "alert.resolved"}
        assert wanted <= seen, wanted - seen
        assert seen <= set(CONTRACTS)
    finally:
        gen.close()


def test_a_broken_payload_is_refused_by_its_contract() -> None:
    good = {"incident_id": 1, "number": 1, "status": "resolved", "severity": "high",
            "title": "x", "previous": {"status": "firing"}, "actor": "system",
            "kind": "resolved"}
    assert validate("incident.status_changed", good)["previous"] == {"status": "firing"}
    for broken in ({**good, "previous": "firing"}, {**good, "status": "gone"},
                   {**good, "surprise": 1}, {k: v for k, v in good.items() if k != "title"}):
        with pytest.raises(ContractError, match=r"incident\.status_changed"):
            validate("incident.status_changed", broken)
    with pytest.raises(ContractError, match="no contract"):
        validate("incident.exploded", good)


def poison(h: Harness, iid: int, **payload: Any) -> int:
    """An event of the old, broken shape, as the bug wrote them."""
    now = h.clock.now()
    body = {"incident_id": iid, "number": 1, "status": "resolved", "severity": "critical",
            "title": "Down", "previous": "firing", "actor": "system", "kind": "resolved",
            **payload}
    with h.ctx.db.write() as s:
        ev = OutboxEvent(tenant_id=1, topic="incident.status_changed",
                         aggregate=f"incident:{iid}", payload=body, created_at=now,
                         available_at=now, attempts=0)
        s.add(ev)
        s.flush()
        return ev.id


def test_an_event_a_consumer_cannot_handle_is_retried_parked_and_replayed(
        vigil: Harness) -> None:
    iid = setup(vigil)
    bad = poison(vigil, iid)
    # Everything behind it still flows: a new incident starts escalating and pages.
    vigil.post_alertmanager(am(alert("DiskFull", severity="critical", service="db")))
    report = run_once(vigil.ctx)  # (the consumers: the engine, then the planner)
    assert report.counts["escalations_started"] == 2 and report.alerts == []
    assert len(intents(vigil)) == 4
    assert report.counts["planned"] >= 4
    state = {(f.consumer, f.event_id): f for f in failures(vigil)}
    assert set(state) == {("escalation", bad), ("delivery", bad)}
    assert all(f.attempts == 1 and f.parked_at is None for f in state.values())
    assert "previous" in state["escalation", bad].error
    assert vigil.client.get("/health").status_code == 200  # 5 s behind: not yet lagging
    # Retried with backoff (5, 10, 20, 40 s); /health turns 503 once it is 60 s old.
    alerts = []
    for wait in (5, 10, 20):
        vigil.clock.advance(seconds=wait)
        alerts += run_once(vigil.ctx).alerts
    assert alerts == [] and {f.attempts for f in failures(vigil)} == {4}
    vigil.clock.advance(seconds=30)
    health = vigil.client.get("/health")
    assert health.status_code == 503, health.text
    assert any("escalation consumer is 65 s behind" in r for r in health.json()["reasons"])
    metrics = vigil.client.get("/metrics").text
    assert 'vigil_outbox_consumer_retrying_events{consumer="escalation"} 1.0' in metrics
    vigil.clock.advance(seconds=10)
    alerts = run_once(vigil.ctx).alerts
    # Parked: a self-alert each, a note on the incident, and /health is ok again.
    assert sorted(a.event.labels["consumer"] for a in alerts) == ["delivery", "escalation"]
    assert {a.event.name for a in alerts} == {"VigilConsumerFailed"}
    assert all(a.event.severity.label == "critical" for a in alerts)
    assert all(f.parked_at is not None for f in failures(vigil))
    with vigil.ctx.db.read() as s:
        notes = list(s.scalars(select(IncidentEvent.message).where(
            IncidentEvent.incident_id == iid, IncidentEvent.kind == "consumer_failed")))
    assert len(notes) == 2 and "set it aside" in notes[0]
    assert vigil.client.get("/health").status_code == 200
    assert 'vigil_outbox_consumer_parked_events{consumer="escalation"} 1.0' in \
        vigil.client.get("/metrics").text
    listed = vigil.client.get("/api/v1/outbox/failures?state=parked", headers=vigil.auth)
    assert listed.status_code == 200 and {f["event_id"] for f in listed.json()} == {bad}
    # After a fix (here: the event's payload corrected), replay: handled, no longer failed.
    with vigil.ctx.db.write() as s:
        s.execute(update(OutboxEvent).where(OutboxEvent.id == bad).values(payload={
            "incident_id": iid, "number": 1, "status": "resolved", "severity": "critical",
            "title": "Down", "previous": {"status": "firing"}, "actor": "system",
            "kind": "resolved"}))
    assert vigil.client.post("/api/v1/outbox/failures/replay", headers=vigil.auth,
                             json={}).status_code == 422
    replayed = vigil.client.post("/api/v1/outbox/failures/replay", headers=vigil.auth,
                                 json={"all": True})
    assert replayed.json() == {"replayed": 2}
    escalate(vigil)
    run_once(vigil.ctx)
    assert failures(vigil) == []


def test_a_failure_no_single_event_can_be_blamed_for_is_found_event_by_event(
        vigil: Harness) -> None:
    """An event that breaks the batch's loading (an id no database column holds) fails
    the batch as a whole; the batch then runs event by event and only that one fails."""
    iid = setup(vigil)
    poison(vigil, 2**63, previous={"status": "firing"})
    vigil.post_alertmanager(am(alert("DiskFull", severity="critical", service="db")))
    assert escalate(vigil)["escalations_started"] == 2
    (failed,) = [f for f in failures(vigil) if f.consumer == "escalation"]
    assert failed.attempts == 1 and detail(vigil, iid)["status"] == "firing"
    escalate(vigil)  # not due yet: not retried, nothing else held up
    assert failures(vigil)[0].attempts == 1


def test_a_failing_escalation_step_does_not_stop_the_others(vigil: Harness) -> None:
    from vigil.oncall.models import Escalation

    iid = setup(vigil)
    vigil.post_alertmanager(am(alert("DiskFull", severity="critical", service="db")))
    escalate(vigil)
    vigil.clock.advance(minutes=5)
    with vigil.ctx.db.write() as s:  # a state no version of Vigil could read
        s.execute(update(Escalation).where(Escalation.incident_id == iid)
                  .values(state={"broken": True}))
    done, _ = consume(vigil.ctx)
    assert done.counts["steps_fired"] == 1  # the other incident's step 2
    (alarm,) = self_alerts(done)
    assert alarm.event.name == "VigilConsumerFailed"
    assert alarm.event.labels["consumer"] == "escalation-steps"
    with vigil.ctx.db.read() as s:
        row = s.scalars(select(Escalation).where(Escalation.incident_id == iid)).one()
        assert row.next_at == vigil.clock.now() + timedelta(minutes=1)


def test_a_failing_tick_turns_health_red(vigil: Harness) -> None:
    people(vigil)
    for _ in range(3):
        vigil.ctx.liveness.failed("tick", RuntimeError("database is locked"))
    health = vigil.client.get("/health")
    assert health.status_code == 503
    assert "the tick has failed 3 passes in a row: RuntimeError: database is locked" in \
        health.json()["reasons"]
    vigil.ctx.liveness.succeeded("tick")
    assert vigil.client.get("/health").status_code == 200


def test_admins_see_a_red_banner_while_paging_is_degraded(vigil: Harness) -> None:
    from ui_session import add_user, get, sign_in

    add_user(vigil, "root", role="admin")
    add_user(vigil, "val", role="viewer")
    sign_in(vigil, "root")
    assert "Paging is degraded" not in get(vigil, "/ui/incidents")
    for _ in range(3):
        vigil.ctx.liveness.failed("notifier", RuntimeError("smtp pool exploded"))
    assert vigil.client.get("/health").status_code == 503  # (refreshes the report)
    page = get(vigil, "/ui/incidents")
    assert 'class="degraded" role="alert"' in page and "Paging is degraded" in page
    assert "the notifier has failed 3 passes in a row: RuntimeError: smtp pool exploded" \
        in page
    vigil.client.cookies.clear()
    sign_in(vigil, "val")
    assert "Paging is degraded" not in get(vigil, "/ui/incidents")  # admins only
    vigil.ctx.liveness.succeeded("notifier")
    vigil.client.get("/health")
    vigil.client.cookies.clear()
    sign_in(vigil, "root")
    assert "Paging is degraded" not in get(vigil, "/ui/incidents")


def test_vigil_pings_its_dead_mans_switch_only_while_healthy(
        db_url: str, clock: Any) -> None:
    """``VIGIL_HEARTBEAT_URL``: a healthy Vigil pings it; one that cannot page stops, so
    the switch outside notices (as Alertmanager's Watchdog alert does)."""
    import contextlib
    import queue as queue_mod

    from fastapi.testclient import TestClient

    from channel_servers import RecordingServer
    from vigil.app import create_app
    from vigil.config import Settings

    with RecordingServer() as switch:
        app = create_app(Settings(
            database_url=db_url, heartbeat_url=f"{switch.url}/ping/vigil",
            heartbeat_interval_seconds=0.05, heartbeat_authorization="Bearer s3cret",
            tick_seconds=3600), clock=clock)
        with TestClient(app):
            (ping,) = switch.wait(1, timeout=10)
            assert (ping.method, ping.path) == ("POST", "/ping/vigil")
            assert ping.headers["authorization"] == "Bearer s3cret"
            assert ping.json["status"] == "ok"
            ctx = app.state.ctx
            for _ in range(3):
                ctx.liveness.failed("tick", RuntimeError("stuck"))
            # Once the monitor has seen it (its next pass), the pings stop.
            for _ in range(200):  # (each pass of the monitor pings once while ok)
                if not ctx.liveness.report.ok:
                    break
                with contextlib.suppress(queue_mod.Empty):
                    switch.wait(1, timeout=0.1)
            assert not ctx.liveness.report.ok
            with contextlib.suppress(queue_mod.Empty):  # a ping already on its way
                switch.wait(1, timeout=0.2)
            while not switch.received.empty():
                switch.received.get_nowait()
            with pytest.raises(queue_mod.Empty):
                switch.wait(1, timeout=0.5)


def test_an_event_that_commits_after_a_later_one_is_not_skipped(vigil: Harness,
                                                                db_url: str) -> None:
    """PostgreSQL hands out ids at INSERT and shows rows at COMMIT: event 100 can commit
    after event 101. The consumer must not move its cursor past 100 while it is open."""
    import threading
    import time

    from vigil.db import Database
    from vigil.oncall.escalation import engine
    from vigil.oncall.models import Escalation

    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: ids commit in order")
    iid = setup(vigil)
    escalate(vigil)
    now = vigil.clock.now()

    def event(status: str) -> OutboxEvent:
        return OutboxEvent(tenant_id=1, topic="incident.status_changed",
                           aggregate=f"incident:{iid}", created_at=now, available_at=now,
                           attempts=0, payload={
                               "incident_id": iid, "number": 1, "status": status,
                               "severity": "critical", "title": "Down",
                               "previous": {"status": "firing"}, "actor": "user:alice",
                               "kind": status})

    other = Database(db_url)
    slow = other.write()
    session = slow.__enter__()
    try:
        session.add(event("acknowledged"))
        session.flush()  # id taken, not committed
        with vigil.ctx.db.write() as s:
            s.add(event("investigating"))  # a later id, committed first
        done: list[engine.PassResult] = []
        consumer = threading.Thread(target=lambda: done.append(
            engine.run_pass(vigil.ctx.db, now)))
        consumer.start()
        with vigil.ctx.db.read() as s:  # the consumer waits for the open writer
            for _ in range(500):
                waiting = s.scalar(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND NOT granted"))
                if waiting:
                    break
                s.rollback()
                time.sleep(0.01)
            assert waiting, "the consumer did not wait for the open transaction"
    finally:
        slow.__exit__(None, None, None)  # commits the earlier id
        other.dispose()
    consumer.join(30)
    assert done and done[0].stopped == 1  # the acknowledgement was not skipped
    with vigil.ctx.db.read() as s:
        row = s.scalars(select(Escalation).where(Escalation.incident_id == iid)).one()
        assert row.status == "acknowledged"


def test_every_registered_consumer_has_one_owner_and_reports_its_lag(vigil: Harness) -> None:
    """The registry lists each consumer once; /health and /metrics report the lag of each;
    one notifier pass runs them all in order, so a page by policy is planned in that pass
    (the tick runs none of them)."""
    from vigil.worker.consumers import CONSUMERS
    from vigil.worker.tick import tick

    names = [c.name for sc in CONSUMERS for c in sc.consumers]
    assert names == ["escalation", "delivery"] and len(set(names)) == len(names)
    setup(vigil)
    assert set(tick(vigil.ctx).counts) == {"severity_escalations", "handoff_notices"}
    assert intents(vigil) == []  # the tick escalates nothing
    health = vigil.client.get("/health").json()
    assert [c["name"] for c in health["consumers"]] == names
    metrics = vigil.client.get("/metrics").text
    for name in names:
        assert f'vigil_outbox_consumer_lag_seconds{{consumer="{name}"}}' in metrics
    done = run_once(vigil.ctx).counts
    assert (done["escalations_started"], done["notification_intents"]) == (1, 2)
    assert done["planned"] == 2  # the engine's pages, planned in the same pass
