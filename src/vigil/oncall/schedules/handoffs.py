"""Handoff notices: tell people when their on-call shift starts and ends, and every Monday
(00:00 UTC) send each person a summary of their shifts in the coming week. Run by the tick;
the window since the last run is kept in a cursor row, so each is sent once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vigil.oncall.people.service import reachable
from vigil.oncall.schedules.service import handoffs_between, list_schedules, load
from vigil.oncall.schedules.shifts import final_shifts
from vigil.outbox.contracts import INTENT, NotificationIntent
from vigil.outbox.models import OutboxCursor, OutboxEvent
from vigil.tenants.models import Tenant

CURSOR = "handoffs"
MAX_LOOKBACK = timedelta(hours=1)  # after a long outage, old handoffs are not announced


def notify_handoffs(session: Session, now: datetime) -> int:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    first = int(now.timestamp())
    session.execute(insert(OutboxCursor).values(name=CURSOR, last_id=first)
                    .on_conflict_do_nothing())
    cursor = session.get(OutboxCursor, CURSOR, with_for_update=True)
    assert cursor is not None
    start = max(datetime.fromtimestamp(cursor.last_id, UTC), now - MAX_LOOKBACK)
    if start >= now:
        return 0
    cursor.last_id = int(now.timestamp())
    made = 0
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0,
                                                           microsecond=0)
    if start < monday <= now:
        made += _weekly(session, monday, now)
    for tenant_id in session.scalars(select(Tenant.id)):
        for schedule, at, before, after in handoffs_between(session, tenant_id, start, now):
            changes = [(u, "starts") for u in after if u not in before] + \
                      [(u, "ends") for u in before if u not in after]
            for user, what in changes:
                for cm, _ in reachable(session, tenant_id, user, "low"):
                    text = f"Your on-call shift on {schedule} {what} now ({at.isoformat()})."
                    notice: NotificationIntent = {
                        "key": f"handoff:{schedule}:{int(at.timestamp())}:{user}:{what}:"
                               f"{cm.id}",
                        "incident_id": None, "user": user, "channel": cm.type,
                        "address": cm.address, "urgency": "low", "event": "reminder",
                        "title": f"On call: {schedule} {what}", "text": text,
                        "target_kind": "schedule", "target": schedule}
                    session.add(OutboxEvent(
                        tenant_id=tenant_id, topic=INTENT, aggregate=f"schedule:{schedule}",
                        payload=notice, created_at=now, available_at=now, attempts=0))
                    made += 1
    return made


def _weekly(session: Session, monday: datetime, now: datetime) -> int:
    """Each person's shifts of the week starting ``monday``, one notice each."""
    made = 0
    end = monday + timedelta(days=7)
    for tenant_id in session.scalars(select(Tenant.id)):
        mine: dict[str, list[str]] = {}
        for row in list_schedules(session, tenant_id=tenant_id):
            for shift in final_shifts(load(row), monday, end):
                mine.setdefault(shift.user, []).append(
                    f"{row.name}: {shift.start:%a %d %b %H:%M} - {shift.end:%a %d %b %H:%M} UTC")
        for user, lines in mine.items():
            text = "Your on-call shifts this week:\n" + "\n".join(lines)
            for cm, _ in reachable(session, tenant_id, user, "low"):
                weekly: NotificationIntent = {
                    "key": f"weekly:{int(monday.timestamp())}:{user}:{cm.id}",
                    "incident_id": None, "user": user, "channel": cm.type,
                    "address": cm.address, "urgency": "low", "event": "reminder",
                    "title": "Your on-call week", "text": text,
                    "target_kind": "user", "target": user}
                session.add(OutboxEvent(
                    tenant_id=tenant_id, topic=INTENT, aggregate=f"user:{user}",
                    payload=weekly, created_at=now, available_at=now, attempts=0))
                made += 1
    return made
