"""Planning: the notifier's outbox consumer. It turns outbox events into ``deliveries``
rows, one per notification to send:

* ``notification.intent`` (escalation pages, handoff notices): a person's contact method,
  through the tenant's *personal* channel of that kind (or a policy's own named Slack or
  webhook channel);
* incident events (``incident.created`` and ``incident.status_changed``) matched by the
  tenant's routing rules: one row per rule and channel.

A row's ``key`` is unique, so planning an event twice plans nothing new. It runs through
``outbox.consumer``, so one event it cannot plan is retried and then parked, and never
holds up the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vigil.core.severity import SEVERITY_LABELS
from vigil.db import Database
from vigil.incidents.models import Incident, IncidentEvent
from vigil.incidents.service import note_parked
from vigil.notify.models import Delivery, NotificationChannel, RoutingRule
from vigil.outbox import consumer as outbox_consumer
from vigil.outbox.consumer import Consumer, Outcome, Retry
from vigil.outbox.contracts import INTENT, IncidentChange, NotificationIntent
from vigil.outbox.models import OutboxEvent
from vigil.outbox.schedule import Ran, Scheduled

CURSOR = "delivery"
TOPICS = (INTENT, "incident.created", "incident.status_changed")


def event_of(topic: str, payload: IncidentChange) -> str | None:
    """The notification event an incident event is, if any (triggered, acknowledged,
    resolved)."""
    if topic == "incident.created":
        return "triggered"
    status = payload["status"]
    previous = payload["previous"].get("status")
    if status == "acknowledged":
        return "acknowledged"
    if status == "resolved":
        return "resolved"
    if status == "firing" and previous in ("resolved", "closed"):
        return "triggered"
    return None


def matches(spec: dict[str, Any], inc: Incident, event: str) -> bool:
    def holds(name: str, value: Any) -> bool:
        wanted = spec.get(name) or []
        if not wanted:
            return True
        if isinstance(value, list):
            return any(v in wanted for v in value)
        return value in wanted
    return (holds("events", event) and holds("severities", SEVERITY_LABELS[inc.severity])
            and holds("services", inc.services) and holds("teams", inc.team)
            and holds("categories", inc.category))


@dataclass
class _Batch:
    channels: dict[tuple[int, str], NotificationChannel]
    personal: dict[tuple[int, str], NotificationChannel]
    rules: list[RoutingRule]
    incidents: dict[int, Incident]
    rows: list[dict[str, Any]] = field(default_factory=list)


class _Planner:
    def __init__(self) -> None:
        self.made = 0

    def begin(self, session: Session, events: Sequence[OutboxEvent], now: datetime) -> _Batch:
        channels = {(c.tenant_id, c.name): c for c in session.scalars(
            select(NotificationChannel).where(NotificationChannel.enabled.is_(True)))}
        personal = {(c.tenant_id, c.kind): c for c in channels.values() if c.personal}
        rules = list(session.scalars(select(RoutingRule).order_by(RoutingRule.id)))
        wanted = sorted({i for i in (ev.payload.get("incident_id") for ev in events
                                     if ev.topic != INTENT and isinstance(ev.payload, dict))
                         if isinstance(i, int)})
        incidents = {i.id: i for i in session.scalars(select(Incident).where(
            Incident.id.in_(wanted)))} if rules and wanted else {}
        return _Batch(channels, personal, rules, incidents)

    def handle(self, session: Session, b: _Batch, ev: OutboxEvent, payload: Any,
               now: datetime) -> None:
        if ev.topic == INTENT:
            b.rows.append(_intent_row(b, ev, payload, now))
            return
        change: IncidentChange = payload
        event = event_of(ev.topic, change)
        inc = b.incidents.get(change["incident_id"]) if event else None
        if event is None or inc is None or inc.candidate or inc.pending:
            return
        base = {"tenant_id": ev.tenant_id, "incident_id": inc.id, "attempts": 0,
                "created_at": now, "updated_at": now}
        for rule in b.rules:
            if rule.tenant_id != ev.tenant_id or not matches(rule.spec, inc, event):
                continue
            for name in rule.spec.get("channels", []):
                chan = b.channels.get((ev.tenant_id, name))
                if chan is None:
                    continue
                b.rows.append({**base, "key": f"route:{rule.id}:{chan.id}:{ev.id}",
                               "channel_id": chan.id, "channel_kind": chan.kind,
                               "address": rule.spec.get("address") or "", "event": event,
                               "recipient": None, "payload": {"rule": rule.name},
                               "status": "pending", "next_attempt_at": now,
                               "last_error": None})

    def end(self, session: Session, b: _Batch, now: datetime) -> None:
        self.made += _insert(session, b.rows)
        for row in b.rows:
            if row["status"] == "dead" and row["incident_id"]:
                session.add(IncidentEvent(
                    tenant_id=row["tenant_id"], incident_id=row["incident_id"], at=now,
                    actor="notifier", kind="notify_failed", before={}, after={},
                    message=f"Could not notify {row['recipient'] or row['address']}: "
                            f"{row['last_error']}"))


def _intent_row(b: _Batch, ev: OutboxEvent, p: NotificationIntent,
                now: datetime) -> dict[str, Any]:
    kind = p["channel"]
    chan = b.personal.get((ev.tenant_id, kind))
    row: dict[str, Any] = {
        "tenant_id": ev.tenant_id, "incident_id": p["incident_id"], "attempts": 0,
        "created_at": now, "updated_at": now, "key": p["key"], "channel_kind": kind,
        "address": p["address"],
        "event": p.get("event") or ("escalated" if p.get("step", 0) or p.get("repeat", 0)
                                    else "triggered"),
        "recipient": p["user"], "payload": dict(p),
        "channel_id": chan.id if chan else None, "status": "pending" if chan else "dead",
        "next_attempt_at": ev.available_at if chan else None,
        "last_error": None if chan else f"no personal {kind} channel is configured"}
    if chan is None and kind in ("slack", "webhook") and not p["user"]:
        named = b.channels.get((ev.tenant_id, p["address"]))  # a policy's own channel
        if named is not None:
            row.update(channel_id=named.id, channel_kind=named.kind, status="pending",
                       next_attempt_at=ev.available_at, last_error=None)
    return row


def _insert(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose key is new; how many that was."""
    if not rows:
        return 0
    known = set(session.scalars(select(Delivery.key).where(
        Delivery.key.in_([r["key"] for r in rows]))))
    new = [r for r in rows if r["key"] not in known]
    if new:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(Delivery).on_conflict_do_nothing(), new)  # another node's race
    return len(new)


def consumer(planner: _Planner | None = None) -> Consumer[_Batch]:
    return Consumer(CURSOR, TOPICS, planner or _Planner(), on_park=note_parked)


@dataclass
class Planned:
    made: int
    outcome: Outcome


def plan(db: Database, now: datetime, retry: Retry | None = None) -> Planned:
    """Plan the deliveries of the outbox events not planned yet (their own transactions)."""
    planner = _Planner()
    out = outbox_consumer.run(db, consumer(planner), now, retry)
    return Planned(planner.made, out)


def work_due(now: datetime) -> ColumnElement[bool]:
    """True when ``plan`` would find anything (a read, so an idle notifier takes no write
    lock)."""
    return outbox_consumer.pending(consumer(), now)


def _scheduled_pass(db: Database, now: datetime, retry: Retry) -> Ran:
    planned = plan(db, now, retry)
    return Ran.of(CURSOR, planned.outcome, {"planned": planned.made})


#: The planner as its owner runs it (``worker.consumers``).
SCHEDULED = Scheduled(CURSOR, (consumer(),), work_due, _scheduled_pass, ("planned",))
