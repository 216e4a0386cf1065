"""The escalation engine end to end, on both databases: incidents from real ingest escalate
by policy on the notifier's pass of the outbox consumers, notification intents land in the
outbox and the timeline, acknowledging stops it, and a crash between deciding and
committing never runs a step twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from conftest import Harness
from incident_api import act, alert, am, detail, incidents
from paging import escalate, intents, people, setup
from vigil.oncall.models import Escalation, Team


def test_incident_escalates_on_time_and_stops_when_acknowledged(vigil: Harness) -> None:
    iid = setup(vigil)
    first = escalate(vigil)
    assert (first["escalations_started"], first["steps_fired"]) == (1, 1)
    got = intents(vigil)
    assert [(i["user"], i["channel"], i["due_at"]) for i in got] == [
        ("alice", "email", "2026-03-01T12:00:00+00:00"),
        ("alice", "sms", "2026-03-01T12:02:00+00:00")]
    assert all(i["incident_id"] == iid for i in got)
    assert len({i["key"] for i in got}) == 2
    kinds = [(t["kind"], t["message"]) for t in detail(vigil, iid)["timeline"]]
    assert ("notify", "Would notify alice via email now (high urgency)") in kinds
    assert escalate(vigil)["steps_fired"] == 0  # nothing new is due: nothing twice
    vigil.clock.advance(minutes=5)
    assert escalate(vigil)["steps_fired"] == 1
    step2 = [(i["user"], i["target"], i["channel"]) for i in intents(vigil)[2:]]
    assert step2 == [("bob", "senior-engineers", "email"), ("bob", "senior-engineers", "sms"),
                     ("carol", "senior-engineers", "email"),
                     (None, "#incidents", "slack")]
    view = vigil.client.get(f"/api/v1/incidents/{iid}/escalation", headers=vigil.auth).json()
    assert view["status"] == "exhausted" and view["next_at"] is None
    act(vigil, iid, "acknowledge")
    assert escalate(vigil)["escalations_stopped"] == 1
    view = vigil.client.get(f"/api/v1/incidents/{iid}/escalation", headers=vigil.auth).json()
    assert view["status"] == "acknowledged"


def test_acknowledged_before_the_second_step_pages_nobody_else(vigil: Harness) -> None:
    iid = setup(vigil)
    escalate(vigil)
    act(vigil, iid, "acknowledge")
    vigil.clock.advance(minutes=10)
    done = escalate(vigil)
    assert done["escalations_stopped"] == 1 and done["steps_fired"] == 0
    assert [i["user"] for i in intents(vigil)] == ["alice", "alice"]
    act(vigil, iid, "resolve")
    vigil.clock.advance(minutes=1)
    escalate(vigil)
    # Reopened: escalation starts over.
    assert act(vigil, iid, "reopen").status_code == 200
    again = escalate(vigil)
    assert again["escalations_started"] == 1 and again["steps_fired"] == 1


def test_escalate_now_and_reassign(vigil: Harness) -> None:
    iid = setup(vigil)
    escalate(vigil)
    resp = vigil.client.post(f"/api/v1/incidents/{iid}/escalate", headers=vigil.auth)
    assert resp.status_code == 200, resp.text
    assert {i["user"] for i in intents(vigil)[2:]} == {"bob", "carol", None}
    assert vigil.client.post("/api/v1/escalation-policies", headers=vigil.auth, json={
        "name": "carol-only", "steps": [{"targets": [{"user": "carol"}]}]}).status_code == 201
    moved = vigil.client.post(f"/api/v1/incidents/{iid}/reassign", headers=vigil.auth,
                              json={"policy": "carol-only"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["policy"] == "carol-only"
    assert intents(vigil)[-1]["user"] == "carol"
    bad = vigil.client.post(f"/api/v1/incidents/{iid}/reassign", headers=vigil.auth,
                            json={"policy": "nope"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "policy"


def test_page_a_team_now_without_an_alert(vigil: Harness) -> None:
    people(vigil)
    resp = vigil.client.post("/api/v1/page", headers=vigil.auth, json={
        "title": "Need DB help now", "targets": [{"team": "senior-engineers"}]})
    assert resp.status_code == 201, resp.text
    assert sorted({i["user"] for i in intents(vigil)}) == ["bob", "carol"]
    inc = detail(vigil, resp.json()["incident_id"])
    assert inc["type"] == "manual" and inc["title"] == "Need DB help now"
    missing = vigil.client.post("/api/v1/page", headers=vigil.auth, json={
        "title": "x", "targets": [{"team": "nope"}]})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "targets[0]"
    two = vigil.client.post("/api/v1/page", headers=vigil.auth, json={
        "title": "x", "targets": [{"team": "a", "user": "b"}]})
    assert two.status_code == 422


def test_bad_policies_are_refused_and_used_policies_kept(vigil: Harness) -> None:
    people(vigil)
    for body, field in [
        ({"name": "x", "steps": []}, "steps"),
        ({"name": "x", "steps": [{"targets": [{"user": "nobody"}]}]}, "steps[0].targets[0]"),
        ({"name": "x", "repeat": 9, "steps": [{"targets": [{"user": "bob"}]}]}, "repeat"),
        ({"name": "x", "steps": [{"targets": [{"user": "bob"}]},
                                 {"delay_minutes": 99999, "targets": [{"user": "bob"}]}]},
         "steps[1].delay_minutes"),
    ]:
        resp = vigil.client.post("/api/v1/escalation-policies", headers=vigil.auth, json=body)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.json()["error"]["field"] == field, resp.json()
    made = vigil.client.post("/api/v1/escalation-policies", headers=vigil.auth,
                             json={"name": "p", "steps": [{"targets": [{"user": "bob"}]}]})
    with vigil.ctx.db.write() as s:
        team = s.scalars(select(Team)).first()
        assert team is not None
        team.escalation_policy = "p"
    gone = vigil.client.delete(f"/api/v1/escalation-policies/{made.json()['id']}",
                               headers=vigil.auth)
    assert gone.status_code == 409 and "senior-engineers" in gone.json()["error"]["message"]


#: Tests-only start-up code for child processes (``faults/sitecustomize.py``): with this
#: variable set, the child SIGKILLs itself as a transaction holding escalation pages commits.
FAULTS = Path(__file__).resolve().parents[1] / "faults"
CRASH_ENV = "VIGIL_TEST_CRASH_BEFORE_ESCALATION_COMMIT"


def test_a_crash_between_deciding_and_committing_never_fires_a_step_twice(
        vigil: Harness, db_url: str) -> None:
    iid = setup(vigil)
    code = (
        "import sys\n"
        "from datetime import datetime\n"
        "import vigil.models\n"
        "from vigil.db import Database\n"
        "from vigil.worker.consumers import run\n"
        "db = Database(sys.argv[1])\n"
        "run(db, datetime.fromisoformat(sys.argv[2]))\n"
    )
    now = vigil.clock.now().isoformat()
    path = os.pathsep.join(p for p in (str(FAULTS), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path, **{CRASH_ENV: "1"})
    crashed = subprocess.run([sys.executable, "-c", code, db_url, now], env=env, check=False,
                             timeout=120)
    assert crashed.returncode == -9  # killed after deciding, before the commit
    assert intents(vigil) == []
    with vigil.ctx.db.read() as s:  # started (its own commit), its first step not fired
        (row,) = s.scalars(select(Escalation)).all()
        assert row.next_at is not None and row.next_at <= vigil.clock.now()
    assert escalate(vigil)["notification_intents"] == 2
    assert escalate(vigil)["notification_intents"] == 0
    assert len(intents(vigil)) == 2 and detail(vigil, iid)["status"] == "firing"


def test_concurrent_passes_fire_each_step_once(vigil: Harness) -> None:
    setup(vigil)
    for n in (1, 2):
        vigil.post_alertmanager(am(alert(f"Down{n}", severity="critical")))
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(escalate(vigil))
        except BaseException as exc:  # surfaced below: a node must never fail here
            errors.append(exc)

    for _ in range(2):
        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        vigil.clock.advance(minutes=5)
    assert errors == []
    assert sum(r["steps_fired"] for r in results) == 6  # 3 incidents x 2 steps
    keys = [i["key"] for i in intents(vigil)]
    assert len(keys) == len(set(keys)) == 3 * (2 + 4)
    assert isinstance(datetime.fromisoformat(intents(vigil)[0]["due_at"]), datetime)


def test_multi_ack_needs_everyone_the_step_paged(vigil: Harness) -> None:
    from vigil.incidents.service import act as act_on

    people(vigil)
    assert vigil.client.post("/api/v1/escalation-policies", headers=vigil.auth, json={
        "name": "both", "steps": [
            {"multi_ack": True, "targets": [{"team": "senior-engineers"}]},
            {"delay_minutes": 5, "targets": [{"user": "alice"}]}]}).status_code == 201
    vigil.client.post("/api/v1/assignment-rules", headers=vigil.auth, json={
        "name": "all", "team": "x", "escalation_policy": "both"})
    for n, ackers in enumerate((["bob"], ["bob", "carol"])):
        vigil.post_alertmanager(am(alert(f"Down{n}", severity="critical")))
        iid = max(i["id"] for i in incidents(vigil))
        escalate(vigil)
        for who in ackers:
            with vigil.ctx.db.write() as s:
                act_on(s, tenant_id=1, incident_id=iid, action="acknowledge",
                       actor=f"user:{who}", now=vigil.clock.now())
        escalate(vigil)
        vigil.clock.advance(minutes=6)
        escalate(vigil)
        paged = {i["user"] for i in intents(vigil) if i["incident_id"] == iid}
        # One acknowledgement of two: alice is still paged; both: she is not.
        assert ("alice" in paged) is (len(ackers) == 1), (ackers, paged)
        kinds = [t["kind"] for t in detail(vigil, iid)["timeline"]]
        assert kinds.count("also_acknowledged") == len(ackers) - 1


def test_a_merged_incident_stops_escalating_and_a_resolved_one_it_reopens_escalates(
        vigil: Harness) -> None:
    iid = setup(vigil)
    vigil.post_alertmanager(am(alert("DiskFull", severity="critical", service="db")))
    other = max(i["id"] for i in incidents(vigil))
    assert escalate(vigil)["escalations_started"] == 2
    act(vigil, other, "resolve")
    escalate(vigil)
    merged = vigil.client.post(f"/api/v1/incidents/{iid}/merge", headers=vigil.auth,
                               json={"into": other})
    assert merged.status_code == 200, merged.text
    assert detail(vigil, other)["status"] == "firing"  # a firing alert moved in
    done = escalate(vigil)
    assert (done["escalations_started"], done["escalations_stopped"]) == (1, 1)
    with vigil.ctx.db.read() as s:
        status = {e.incident_id: e.status for e in s.scalars(select(Escalation))}
    assert status == {iid: "resolved", other: "active"}
    vigil.clock.advance(minutes=30)  # nothing more for the merged one
    escalate(vigil)
    assert {i["incident_id"] for i in intents(vigil)[4:]} <= {other}
