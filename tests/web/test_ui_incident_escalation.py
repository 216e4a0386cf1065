"""The escalation panel of the incident page: the step, the pages sent and the next step,
escalate now, reassigning to a person or a schedule, who may act on it, where the policy
in effect comes from, and how few queries the page reads it in; signed in through the real
login form, on both databases."""

from __future__ import annotations

import html as htmllib
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from ui_incident_cases import alert, am, by_title

from channel_sinks import Sink, email_channel
from conftest import Harness
from paging import POLICY, escalate, people, setup
from ui_sign_in import sign_in
from vigil.incidents.models import Incident
from vigil.oncall.escalation import engine
from vigil.oncall.models import Team
from vigil.worker.notifier import run_once


# ---------------------------------------------------------------- the escalation panel
def section(html: str, section_id: str) -> str:
    """One ``<section id=...>`` of a page as plain text (tags dropped, spaces squeezed)."""
    found = re.search(rf'<section id="{section_id}".*?</section>', html, re.S)
    assert found, section_id
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", found.group(0))).split())


def page_rows(html: str) -> list[tuple[str, str]]:
    """The escalation's pages: (status, row text)."""
    return [(st, " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", row)).split()))
            for st, row in re.findall(
                r'<tr class="page" data-id="\d+" data-status="(\w+)">(.*?)</tr>', html, re.S)]


def escalation(h: Harness, iid: int) -> dict[str, Any]:
    resp = h.client.get(f"/api/v1/incidents/{iid}/escalation", headers=h.auth)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_page_shows_the_escalation_and_escalate_now_fires_the_next_step(
        vigil: Harness, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    email_channel(vigil, port)
    iid = setup(vigil)  # critical-firing, the incident's own (an assignment rule set it)
    escalate(vigil)  # step 1: the schedule "primary", alice on call (email now, SMS in 2m)
    run_once(vigil.ctx)  # her email is sent; no personal SMS channel: that page is dead
    vigil.clock.advance(minutes=1)
    csrf = sign_in(vigil, "rita", "responder")
    html = vigil.client.get(f"/ui/incidents/{iid}").text
    assert 'id="fact-escalation">critical-firing<' in html  # the header agrees now
    text = section(html, "incident-escalation")
    assert "Escalation active Policy critical-firing (the incident's own)" in text
    assert ("Current step Step 1 of 2 , fired 2026-03-01 12:00:00 UTC (1m 0s ago) "
            "schedule primary → alice") in text
    assert ("Next step Step 2 of 2 at 2026-03-01 12:05:00 UTC (in 4m 0s) "
            "team senior-engineers slack channel #incidents") in text
    rows = page_rows(html)
    assert [st for st, _ in rows] == ["sent", "dead"]
    assert rows[0][1] == ("1 alice via schedule primary email alice@ex.com sent sent "
                          "2026-03-01 12:00:00 UTC (1m 0s ago)")
    assert "sms +4915112345678 dead no personal sms channel is configured" in rows[1][1]
    assert 'data-refresh-in="241000"' in html  # look again just after step 2 is due
    assert 'data-action="escalate"' in html and 'id="reassign-form"' in html

    # The API tells the same.
    view = escalation(vigil, iid)
    assert (view["policy"], view["policy_source"], view["status"], view["inline"]) == (
        "critical-firing", "incident", "active", False)
    assert (view["steps"], view["repeats"], view["can_escalate"]) == (2, 0, True)
    step = view["step"]
    assert (step["number"], step["of"], step["repeat"], step["persons"]) == (1, 2, 0, ["alice"])
    assert step["targets"] == [{"type": "schedule", "id": "primary"}]
    assert at(step["fired_at"]) == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    nxt = view["next_step"]
    assert (nxt["number"], nxt["of"], nxt["restart"]) == (2, 2, False)
    assert at(nxt["at"]) == at(view["next_at"]) == datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    assert nxt["targets"] == [{"type": "team", "id": "senior-engineers"},
                              {"type": "slack_channel", "id": "#incidents"}]
    assert [(p["recipient"], p["channel"], p["status"], p["step"]) for p in view["pages"]] == [
        ("alice", "email", "sent", 1), ("alice", "sms", "dead", 1)]
    assert at(view["pages"][0]["sent_at"]) == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert view["pages_more"] is False and view["state"]["step"] == 1

    # "Escalate now" (the page's button calls the API with the session): step 2 fires.
    resp = vigil.client.post(f"/api/v1/incidents/{iid}/escalate",
                             headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 200, resp.text
    assert resp.json()["step"]["number"] == 2 and resp.json()["status"] == "exhausted"
    run_once(vigil.ctx)
    html = vigil.client.get(f"/ui/incidents/{iid}").text
    text = section(html, "incident-escalation")
    assert "Escalation exhausted" in text
    assert ("Current step Step 2 of 2 , fired 2026-03-01 12:01:00 UTC (now) team "
            "senior-engineers slack channel #incidents → bob, carol") in text
    assert "Next step none: every step has fired and nobody acknowledged" in text
    paged = [(st, row.split()[:3]) for st, row in page_rows(html)]
    assert paged[2:] == [("sent", ["2", "bob", "via"]), ("dead", ["2", "bob", "via"]),
                         ("sent", ["2", "carol", "via"]), ("dead", ["2", "#incidents", "slack"])]
    assert sorted(m["To"] for m in sink.messages) == ["alice@ex.com", "bob@ex.com",
                                                      "carol@ex.com"]
    assert 'data-action="escalate"' not in html  # nothing left to hurry
    assert 'id="reassign-form"' in html
    assert 'data-refresh-in="2000"' in html  # a step just fired: its pages are coming
    vigil.clock.advance(minutes=1)
    assert "data-refresh-in" not in vigil.client.get(f"/ui/incidents/{iid}").text
    timeline = section(html, "incident-timeline")
    assert "Escalated by user:rita" in timeline


def test_a_viewer_sees_the_escalation_but_cannot_act_on_it(vigil: Harness) -> None:
    iid = setup(vigil)
    escalate(vigil)
    csrf = sign_in(vigil, "victor", "viewer")
    html = vigil.client.get(f"/ui/incidents/{iid}").text
    assert "Current step Step 1 of 2" in section(html, "incident-escalation")
    assert 'data-action="escalate"' not in html and 'id="reassign-form"' not in html
    assert 'id="escalation-actions"' not in html
    for path, body in (("escalate", None), ("reassign", {"user": "carol"})):
        resp = vigil.client.post(f"/api/v1/incidents/{iid}/{path}", json=body,
                                 headers={"X-CSRF-Token": csrf})
        assert resp.status_code == 403, resp.text
    assert escalation(vigil, iid)["step"]["number"] == 1


def test_reassign_to_a_person_or_a_schedule_pages_them_now(
        vigil: Harness, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    email_channel(vigil, port)
    iid = setup(vigil)
    escalate(vigil)
    run_once(vigil.ctx)
    csrf = sign_in(vigil, "rita", "responder")
    html = vigil.client.get(f"/ui/incidents/{iid}").text
    for option in ('<option value="policy:critical-firing">critical-firing</option>',
                   '<option value="user:carol">Carol (carol)</option>',
                   '<option value="schedule:primary">primary</option>'):
        assert option in html, option
    session = {"X-CSRF-Token": csrf}
    url = f"/api/v1/incidents/{iid}/reassign"

    # The schedule alice was paged through at step 1 already: she is paged again, as a new
    # page (not taken for a repeat of the first one).
    resp = vigil.client.post(url, headers=session, json={"schedule": "primary"})
    assert resp.status_code == 200, resp.text
    view = resp.json()
    assert (view["policy"], view["policy_source"], view["inline"], view["status"]) == (
        "INC-1 to schedule primary", "direct", True, "exhausted")
    assert (view["step"]["number"], view["step"]["of"], view["step"]["persons"]) == (
        1, 1, ["alice"])
    run_once(vigil.ctx)
    assert [m["To"] for m in sink.messages] == ["alice@ex.com", "alice@ex.com"]
    rows = page_rows(vigil.client.get(f"/ui/incidents/{iid}").text)
    assert [row.split()[:4] for st, row in rows if st == "sent"] == [
        ["1", "alice", "via", "schedule"], ["1", "(round", "2)", "alice"]]

    resp = vigil.client.post(url, headers=session, json={"user": "carol"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["step"]["targets"] == [{"type": "user", "id": "carol"}]
    run_once(vigil.ctx)
    assert [m["To"] for m in sink.messages][-1] == "carol@ex.com"
    text = section(vigil.client.get(f"/ui/incidents/{iid}").text, "incident-escalation")
    assert "Policy INC-1 to user carol (a one-off page)" in text
    assert "Current step Step 1 of 1" in text and "user carol → carol" in text

    # Back to a policy: it becomes the incident's own.
    resp = vigil.client.post(url, headers=session, json={"policy": "critical-firing"})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["policy"], resp.json()["policy_source"]) == ("critical-firing",
                                                                      "incident")

    # Refusals name the field and change nothing.
    for body, status, field in (({"user": "nobody"}, 422, "user"),
                                ({"schedule": "nope"}, 422, "schedule"),
                                ({"policy": "nope"}, 422, "policy"),
                                ({"user": "bob", "schedule": "primary"}, 422, "schedule"),
                                ({}, 422, "policy"), ({"team": "x"}, 422, None)):
        resp = vigil.client.post(url, headers=session, json=body)
        assert resp.status_code == status, (body, resp.text)
        if field:
            assert resp.json()["error"]["field"] == field, (body, resp.json())
    assert vigil.client.post("/api/v1/escalation-policies", headers=vigil.auth, json={
        "name": "warnings-only", "conditions": {"severities": ["warning"]},
        "steps": [{"targets": [{"user": "bob"}]}]}).status_code == 201
    before = escalation(vigil, iid)
    resp = vigil.client.post(url, headers=session, json={"policy": "warnings-only"})
    assert resp.status_code == 409 and resp.json()["error"]["field"] == "policy"
    assert escalation(vigil, iid) == before
    with vigil.ctx.db.read() as s:
        inc = s.get(Incident, iid)
        assert inc is not None and inc.escalation_policy == "critical-firing"
    assert vigil.client.post(f"/api/v1/incidents/{iid}/resolve",
                             headers=session).status_code == 200
    resp = vigil.client.post(url, headers=session, json={"user": "carol"})
    assert resp.status_code == 409 and resp.json()["error"]["field"] == "status"
    html = vigil.client.get(f"/ui/incidents/{iid}").text
    assert 'id="reassign-form"' not in html  # a resolved incident is not reassigned


def test_the_policy_in_effect_comes_from_the_service_or_the_team(vigil: Harness) -> None:
    people(vigil)
    assert vigil.client.post("/api/v1/escalation-policies", headers=vigil.auth,
                             json=POLICY).status_code == 201
    made = vigil.client.post("/api/v1/services", headers=vigil.auth, json={
        "name": "checkout", "escalation_policy": "critical-firing"})
    assert made.status_code == 201, made.text
    vigil.post_alertmanager(am(alert("Down", severity="critical")))
    vigil.clock.advance(seconds=10)
    vigil.post_alertmanager(am(alert("Slow", service="search", severity="critical")))
    incs = by_title(vigil)
    down, slow = incs["Down on checkout"]["id"], incs["Slow on search"]["id"]
    patched = vigil.client.patch(f"/api/v1/incidents/{slow}", headers=vigil.auth,
                                 json={"team": "senior-engineers"})
    assert patched.status_code == 200, patched.text
    with vigil.ctx.db.write() as s:
        team = s.scalars(select(Team).where(Team.name == "senior-engineers")).one()
        team.escalation_policy = "critical-firing"
    sign_in(vigil, "rita", "responder")

    # Before the engine runs: what it will escalate by, and the page looks again soon.
    html = vigil.client.get(f"/ui/incidents/{down}").text
    text = section(html, "incident-escalation")
    assert "Escalation not escalating Policy critical-firing (from service checkout)" in text
    assert 'data-refresh-in="2000"' in html and 'id="esc-pages"' not in html
    assert 'data-action="escalate"' not in html
    view = escalation(vigil, down)
    assert (view["policy"], view["policy_source"], view["policy_source_name"],
            view["status"], view["step"], view["steps"]) == (
        "critical-firing", "service", "checkout", "none", None, 2)
    assert escalation(vigil, slow)["policy_source"] == "team"
    assert "(from team senior-engineers)" in section(
        vigil.client.get(f"/ui/incidents/{slow}").text, "incident-escalation")
    with vigil.ctx.db.read() as s:  # the same answer as the engine's
        for iid in (down, slow):
            inc = s.get(Incident, iid)
            assert inc is not None
            assert engine.policy_for(s, inc) == escalation(vigil, iid)["policy"]

    escalate(vigil)
    view = escalation(vigil, down)
    assert (view["status"], view["policy_source"], view["step"]["number"]) == (
        "active", "service", 1)
    vigil.clock.advance(minutes=2)  # (and no longer new: no quick look again)
    html = vigil.client.get(f"/ui/incidents/{down}").text
    assert "Current step Step 1 of 2" in section(html, "incident-escalation")
    assert 'data-refresh-in="' in html  # next step at 12:05
    policy = vigil.client.get("/api/v1/escalation-policies", headers=vigil.auth).json()[0]
    with vigil.ctx.db.write() as s:  # a policy deleted under a running escalation
        from vigil.oncall.models import EscalationPolicyRow, Service
        for model in (Service, Team):
            for row in s.scalars(select(model)):
                row.escalation_policy = None
        row = s.get(EscalationPolicyRow, policy["id"])
        assert row is not None
        s.delete(row)
    html = vigil.client.get(f"/ui/incidents/{down}").text
    text = section(html, "incident-escalation")
    assert "Policy critical-firing this policy no longer exists" in text
    assert "Current step Step 1 , fired" in text and 'data-action="escalate"' not in html


def test_the_incident_page_reads_the_escalation_in_a_few_queries(vigil: Harness) -> None:
    iid = setup(vigil)
    escalate(vigil)
    run_once(vigil.ctx)
    sign_in(vigil, "rita", "responder")

    def statements() -> list[str]:
        seen: list[str] = []

        def hook(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        engine_ = vigil.ctx.db.engine
        event.listen(engine_, "before_cursor_execute", hook)
        try:
            assert vigil.client.get(f"/ui/incidents/{iid}").status_code == 200
        finally:
            event.remove(engine_, "before_cursor_execute", hook)
        return seen

    few = statements()
    assert vigil.client.post(f"/api/v1/incidents/{iid}/escalate",
                             headers=vigil.auth).status_code == 200
    run_once(vigil.ctx)  # more pages, more people, more steps fired
    assert len(escalation(vigil, iid)["pages"]) > 2
    more = statements()
    assert len(more) == len(few), (few, more)  # no query per page, step or person
    for table in ("deliveries", "escalations"):
        assert len([s for s in more if re.search(rf"\bFROM {table}\b", s)]) == 1, table
    assert len([s for s in more if re.search(r"\bFROM escalation_policies\b", s)]) == 2
