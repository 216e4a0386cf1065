"""Paging in tests: people with contact methods, a policy, and one pass of the outbox consumers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conftest import Harness
from incident_api import alert, am, incidents
from vigil.auth.models import User
from vigil.oncall.escalation.engine import INTENT
from vigil.oncall.models import ContactMethod, NotificationRule, ScheduleRow, Team
from vigil.outbox.models import OutboxEvent
from vigil.worker.consumers import consume

POLICY = {
    "name": "critical-firing",
    "conditions": {"severities": ["critical", "high"], "statuses": ["firing"]},
    "steps": [
        {"delay": 0, "targets": [{"schedule": "primary"}]},
        {"delay_minutes": 5, "targets": [{"team": "senior-engineers"},
                                         {"slack_channel": "#incidents"}]},
    ],
}


def people(h: Harness) -> None:
    """alice and bob (email at once, SMS after 2 minutes for high urgency), carol (email),
    a schedule "primary" with alice on call, a team "senior-engineers" of bob and carol."""
    now = h.clock.now()
    with h.ctx.db.write() as s:
        for name in ("alice", "bob", "carol"):
            u = User(tenant_id=1, username=name, name=name.title(), email=f"{name}@ex.com",
                     time_zone="UTC", role="responder", ical_token=f"t-{name}",
                     created_at=now, updated_at=now)
            s.add(u)
            s.flush()
            email = ContactMethod(tenant_id=1, user_id=u.id, type="email",
                                  address=f"{name}@ex.com", label="work", enabled=True,
                                  created_at=now)
            s.add(email)
            s.flush()
            s.add(NotificationRule(tenant_id=1, user_id=u.id, contact_method_id=email.id,
                                   urgency="high", delay_minutes=0, created_at=now))
            if name != "carol":
                sms = ContactMethod(tenant_id=1, user_id=u.id, type="sms",
                                    address="+4915112345678", label="mobile", enabled=True,
                                    created_at=now)
                s.add(sms)
                s.flush()
                s.add(NotificationRule(tenant_id=1, user_id=u.id, contact_method_id=sms.id,
                                       urgency="high", delay_minutes=2, created_at=now))
        s.add(Team(tenant_id=1, name="senior-engineers", description="", members=["bob", "carol"],
                   escalation_policy=None, created_at=now, updated_at=now))
        s.add(ScheduleRow(tenant_id=1, name="primary", ical_token="x", created_at=now,
                          updated_at=now, definition={
                              "name": "primary", "time_zone": "UTC", "layers": [{
                                  "name": "l1", "rotation": {
                                      "type": "weekly", "start": "2026-02-23T09:00",
                                      "participants": ["alice", "bob"]}}]}))


def escalate(h: Harness) -> dict[str, int]:
    """One pass of the registered outbox consumers (the escalation engine, then the
    planner), as the notifier runs them; their counts."""
    return consume(h.ctx)[0].counts


def intents(h: Harness) -> list[dict[str, Any]]:
    with h.ctx.db.read() as s:
        return [o.payload for o in s.scalars(select(OutboxEvent).where(
            OutboxEvent.topic == INTENT).order_by(OutboxEvent.id))]


def setup(h: Harness) -> int:
    people(h)
    resp = h.client.post("/api/v1/escalation-policies", headers=h.auth, json=POLICY)
    assert resp.status_code == 201, resp.text
    assert h.client.post("/api/v1/assignment-rules", headers=h.auth, json={
        "name": "critical", "severities": ["critical"],
        "escalation_policy": "critical-firing"}).status_code == 201
    h.post_alertmanager(am(alert("Down", severity="critical")))
    (inc,) = incidents(h)
    assert inc["escalation_policy"] == "critical-firing"
    iid: int = inc["id"]
    return iid
