"""The escalation engine: the edge around ``oncall.escalation``. An outbox consumer
(``SCHEDULED``, registered in ``worker.consumers``, run by every notifier pass), in one
transaction per batch and one for the due steps:

1. it reads the outbox from its cursor: an incident announced (``incident.created``)
   starts escalating by its policy (the incident's own, else its service's, else its
   team's); an acknowledgement stops it; resolving or closing ends it; reopening restarts
   it;
2. it fires the steps that are due: each notification intent becomes an outbox row
   (``notification.intent``, available at its own due time, with an idempotency key) and a
   timeline entry ("would notify alice via sms"), in the same transaction that moves the
   escalation's state on. A crash before the commit loses both, and the next pass computes
   the same intents again: no step runs twice, none is skipped.

On PostgreSQL the cursor row is locked while read and due escalations are claimed with
``FOR UPDATE SKIP LOCKED``, so several nodes share the work without doing it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, insert, or_, select
from sqlalchemy.orm import Session, load_only

from vigil.db import Database
from vigil.incidents.models import Incident, IncidentEvent
from vigil.incidents.service import note_parked
from vigil.oncall.escalation import policy as esc
from vigil.oncall.escalation.parse import parse_policy
from vigil.oncall.models import (
    ContactMethod,
    Escalation,
    EscalationPolicyRow,
    ScheduleRow,
    Service,
    Team,
)
from vigil.oncall.people import service as people_service
from vigil.oncall.schedules.parse import parse_schedule
from vigil.oncall.schedules.shifts import on_call_at
from vigil.outbox import consumer as outbox_consumer
from vigil.outbox.consumer import Consumer, Parked, Retry
from vigil.outbox.contracts import INTENT, IncidentChange, NotificationIntent
from vigil.outbox.models import OutboxEvent
from vigil.outbox.schedule import Failure, Ran, Scheduled

log = logging.getLogger(__name__)

CURSOR = "escalation"
_WATCHED = ("incident.created", "incident.status_changed", "incident.merged")


#: When a due step could not be fired, how soon it is tried again.
FIRE_RETRY = timedelta(minutes=1)


@dataclass
class PassResult:
    started: int = 0
    stopped: int = 0
    fired: int = 0
    intents: int = 0
    #: Outbox events the engine gave up on (for a self-alert).
    parked: list[Parked] = field(default_factory=list)
    #: Escalations whose due step failed: (tenant, incident, error).
    failed: list[tuple[int, int, str]] = field(default_factory=list)
    #: Failed attempts at outbox events (each retried on its own schedule).
    event_failures: int = 0


class Lookups:
    """What the pure core asks while deciding, read from the session (cached per pass)."""

    def __init__(self, session: Session, tenant_id: int) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self._schedules: dict[str, Any] = {}
        self._policies: dict[str, esc.Policy | None] = {}

    def policy(self, name: str) -> esc.Policy | None:
        if name not in self._policies:
            row = self.session.scalars(select(EscalationPolicyRow).where(
                EscalationPolicyRow.tenant_id == self.tenant_id,
                EscalationPolicyRow.name == name)).first()
            self._policies[name] = parse_policy(row.definition) if row is not None else None
        return self._policies[name]

    def on_call(self, schedule: str, at: datetime) -> list[str]:
        if schedule not in self._schedules:
            row = self.session.scalars(select(ScheduleRow).where(
                ScheduleRow.tenant_id == self.tenant_id, ScheduleRow.name == schedule)).first()
            self._schedules[schedule] = (parse_schedule(row.definition) if row is not None
                                         else None)
        parsed = self._schedules[schedule]
        return list(on_call_at(parsed, at)) if parsed is not None else []

    def team_members(self, team: str) -> list[str]:
        return people_service.team_members(self.session, self.tenant_id, team)

    def resolver(self) -> esc.Resolver:
        return esc.Resolver(on_call=self.on_call, team_members=self.team_members)

    def reach(self, username: str, urgency: str) -> list[tuple[ContactMethod, int]]:
        """How to reach a person at this urgency: (contact method, delay minutes)."""
        return people_service.reachable(self.session, self.tenant_id, username, urgency)


#: The incident columns the engine reads (others load when touched).
_READ = (Incident.id, Incident.tenant_id, Incident.number, Incident.escalation_policy,
         Incident.services, Incident.team, Incident.severity, Incident.status,
         Incident.candidate, Incident.pending)


#: Timeline entries a pass decided (rows for ``IncidentEvent``), written by the pass in one
#: bulk INSERT at its end. Outside a pass (the API's "escalate now") there is none and each
#: entry is added to the session.
Notes = list[dict[str, Any]]


@dataclass
class Preloaded:
    """What a pass of ``consume`` reads once for all its events: the incidents, their
    escalation rows, and which escalation policy each service and team names."""

    incidents: dict[int, Incident]
    escalations: dict[int, Escalation]
    service_policy: dict[tuple[int, str], str]
    team_policy: dict[tuple[int, str], str]

    @classmethod
    def load(cls, session: Session, incident_ids: set[int]) -> Preloaded:
        """(Escalation rows are locked: on PostgreSQL another node waits for them.)"""
        ids = sorted(incident_ids)
        incidents = {i.id: i for i in session.scalars(
            select(Incident).options(load_only(*_READ)).where(Incident.id.in_(ids)))} \
            if ids else {}
        stmt = select(Escalation).where(Escalation.incident_id.in_(ids)).with_for_update()
        escalations = {e.incident_id: e for e in session.scalars(stmt)} if ids else {}
        services = {(t, n): p for t, n, p in session.execute(select(
            Service.tenant_id, Service.name, Service.escalation_policy).where(
            Service.escalation_policy.is_not(None))) if p}
        teams = {(t, n): p for t, n, p in session.execute(select(
            Team.tenant_id, Team.name, Team.escalation_policy).where(
            Team.escalation_policy.is_not(None))) if p}
        return cls(incidents, escalations, services, teams)


def policy_for(session: Session, inc: Incident, pre: Preloaded | None = None) -> str | None:
    """The incident's own policy, else its first service's, else its team's."""
    if inc.escalation_policy:
        return inc.escalation_policy
    if pre is not None:
        for name in sorted(inc.services or []):
            if (inc.tenant_id, name) in pre.service_policy:
                return pre.service_policy[inc.tenant_id, name]
        return pre.team_policy.get((inc.tenant_id, inc.team)) if inc.team else None
    if inc.services:
        found = session.scalars(select(Service.escalation_policy).where(
            Service.tenant_id == inc.tenant_id, Service.name.in_(inc.services),
            Service.escalation_policy.is_not(None)).order_by(Service.name)).first()
        if found:
            return found
    if inc.team:
        return session.scalars(select(Team.escalation_policy).where(
            Team.tenant_id == inc.tenant_id, Team.name == inc.team)).first()
    return None


def _note(session: Session, inc: Incident, now: datetime, actor: str, kind: str,
          message: str, notes: Notes | None = None) -> None:
    row = {"tenant_id": inc.tenant_id, "incident_id": inc.id, "at": now, "actor": actor,
           "kind": kind, "message": message, "before": {}, "after": {}}
    if notes is not None:
        notes.append(row)
    else:
        session.add(IncidentEvent(**row))


def _write_notes(session: Session, notes: Notes) -> None:
    if notes:
        session.execute(insert(IncidentEvent), notes)


def _policy_of(lookups: Lookups, row: Escalation) -> esc.Policy | None:
    if row.inline_policy is not None:
        return parse_policy(row.inline_policy)
    return lookups.policy(row.policy)


def start(session: Session, inc: Incident, now: datetime, *, policy_name: str | None = None,
          inline: dict[str, Any] | None = None, pre: Preloaded | None = None,
          lookups: Lookups | None = None, notes: Notes | None = None) -> Escalation | None:
    """Begin (or restart) the incident's escalation (its timeline entries go to ``notes``
    when given)."""
    lookups = lookups or Lookups(session, inc.tenant_id)
    name = policy_name or (inline or {}).get("name") or policy_for(session, inc, pre)
    if name is None:
        _note(session, inc, now, "system", "escalation",
              "No escalation policy: nobody will be paged (set one on the incident, its "
              "service or its team)", notes)
        return None
    policy = parse_policy(inline) if inline is not None else lookups.policy(name)
    if policy is None:
        _note(session, inc, now, "system", "escalation",
              f"Escalation policy {name!r} does not exist: nobody will be paged", notes)
        return None
    from vigil.core.severity import SEVERITY_LABELS
    if not policy.applies(SEVERITY_LABELS[inc.severity], inc.status):
        _note(session, inc, now, "system", "escalation",
              f"Escalation policy {name!r} does not apply to a {SEVERITY_LABELS[inc.severity]}"
              f" {inc.status} incident", notes)
        return None
    state = esc.start(policy, now)
    row = pre.escalations.get(inc.id) if pre is not None else session.scalars(
        select(Escalation).where(Escalation.incident_id == inc.id)).first()
    if row is None:
        row = Escalation(tenant_id=inc.tenant_id, incident_id=inc.id, policy=name,
                         inline_policy=inline, state=state.to_dict(), status=state.status.value,
                         next_at=esc.next_due(state), updated_at=now)
        session.add(row)
    else:
        old = esc.EscalationState.from_dict(row.state)
        same = row.policy == name and row.inline_policy == inline
        if same and old.status is not esc.Status.RESOLVED:  # keeps round-robin positions
            state = esc.reassign(policy, old, now)
        else:  # a new round: its pages must not be taken for the last round's (same keys)
            state = replace(state, epoch=old.epoch + 1)
        row.policy, row.inline_policy = name, inline
        row.state, row.status = state.to_dict(), state.status.value
        row.next_at, row.updated_at = esc.next_due(state), now
    _note(session, inc, now, "system", "escalation", f"Escalating by policy {name!r}", notes)
    return row


def _on_event(session: Session, topic: str, payload: IncidentChange, now: datetime,
              batch: _Batch) -> None:
    result, pre = batch.result, batch.pre
    inc = pre.incidents.get(payload["incident_id"])
    if inc is None:
        return
    look = batch.lookups.get(inc.tenant_id)
    if look is None:
        look = batch.lookups[inc.tenant_id] = Lookups(session, inc.tenant_id)
    row = pre.escalations.get(inc.id)
    if topic == "incident.created":
        # (a direct page starts its own escalation, so one may exist already)
        if row is None and not inc.candidate and not inc.pending and \
                inc.status == "firing":
            row = start(session, inc, now, pre=pre, lookups=look, notes=batch.notes)
            if row is not None:
                pre.escalations[inc.id] = row
                result.started += 1
        return
    status = payload["status"]
    previous = payload["previous"].get("status")
    if status == "firing" and previous in ("resolved", "closed"):
        row = start(session, inc, now, pre=pre, lookups=look, notes=batch.notes)
        if row is not None:
            pre.escalations[inc.id] = row
            result.started += 1
        return
    if row is None:
        return
    policy = _policy_of(look, row)
    state = esc.EscalationState.from_dict(row.state)
    if policy is None or state.status in (esc.Status.RESOLVED,):
        return
    actor = payload["actor"] or "someone"
    if status == "acknowledged" and state.status in (esc.Status.ACTIVE, esc.Status.EXHAUSTED):
        state = esc.acknowledge(policy, state, actor.removeprefix("user:"), now)
    elif status in ("resolved", "closed", "merged", "deleted"):
        state = esc.resolve(state, now)
    else:
        return
    row.state, row.status = state.to_dict(), state.status.value
    row.next_at, row.updated_at = esc.next_due(state), now
    result.stopped += 1


@dataclass
class _Batch:
    """A batch's working state: what it loaded, what it counted, the timeline entries it
    decided (written at its end)."""

    pre: Preloaded
    lookups: dict[int, Lookups] = field(default_factory=dict)
    result: PassResult = field(default_factory=PassResult)
    notes: Notes = field(default_factory=list)


class _Starter:
    """The engine's outbox consumer: incidents announced start escalating; acknowledged,
    resolved or reopened ones move their escalation on."""

    def __init__(self, result: PassResult) -> None:
        self.result = result

    def begin(self, session: Session, events: Sequence[OutboxEvent], now: datetime) -> _Batch:
        ids = {i for i in (ev.payload.get("incident_id") for ev in events
                           if isinstance(ev.payload, dict)) if isinstance(i, int)}
        return _Batch(Preloaded.load(session, ids))

    def handle(self, session: Session, batch: _Batch, event: OutboxEvent,
               payload: IncidentChange, now: datetime) -> None:
        with session.no_autoflush:
            _on_event(session, event.topic, payload, now, batch)

    def end(self, session: Session, batch: _Batch, now: datetime) -> None:
        _write_notes(session, batch.notes)
        self.result.started += batch.result.started
        self.result.stopped += batch.result.stopped


def consumer(result: PassResult) -> Consumer[_Batch]:
    return Consumer(CURSOR, _WATCHED, _Starter(result), limit=5000, on_park=note_parked)


def fire(session: Session, now: datetime, result: PassResult, limit: int = 200,
         notes: Notes | None = None) -> None:
    """Fire the due steps (the timeline entries go to ``notes`` when given)."""
    stmt = (select(Escalation).where(Escalation.next_at.is_not(None), Escalation.next_at <= now)
            .order_by(Escalation.next_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    for row in session.scalars(stmt):
        inc = session.get(Incident, row.incident_id)
        if inc is None:
            row.next_at = None
            continue
        mark = len(notes) if notes is not None else 0
        try:
            with session.begin_nested():  # one broken escalation must not stop the others
                _fire_one(session, inc, row, now, result, notes)
        except Exception as exc:
            if notes is not None:  # (what the savepoint rolled back)
                del notes[mark:]
            row.next_at = now + FIRE_RETRY
            text = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("escalation of incident %d failed", inc.id)
            _note(session, inc, now, "vigil", "consumer_failed",
                  f"Vigil could not fire this incident's escalation step ({text}); "
                  f"trying again at {row.next_at.isoformat()}", notes)
            result.failed.append((inc.tenant_id, inc.id, text))


def _fire_one(session: Session, inc: Incident, row: Escalation, now: datetime,
              result: PassResult, notes: Notes | None) -> None:
    lookups = Lookups(session, row.tenant_id)
    policy = _policy_of(lookups, row)
    if policy is None:
        row.next_at = None
        _note(session, inc, now, "system", "escalation",
              f"Escalation policy {row.policy!r} is gone: escalation stopped", notes)
        return
    state = esc.EscalationState.from_dict(row.state)
    state, intents = esc.due(policy, state, now, lookups.resolver())
    _record(session, inc, row, intents, lookups, now, result, notes)
    row.state, row.status = state.to_dict(), state.status.value
    row.next_at, row.updated_at = esc.next_due(state), now
    if state.status is esc.Status.EXHAUSTED:
        _note(session, inc, now, f"escalation:{row.policy}", "escalation",
              "Every step has fired and nobody acknowledged", notes)


def _record(session: Session, inc: Incident, row: Escalation, intents: list[esc.Notify],
            lookups: Lookups, now: datetime, result: PassResult, notes: Notes | None) -> None:
    actor = f"escalation:{row.policy}"
    steps = sorted({(n.epoch, n.repeat, n.step_index) for n in intents})
    for epoch, repeat, step in steps:
        result.fired += 1
        mine = [n for n in intents if (n.epoch, n.repeat, n.step_index) == (epoch, repeat, step)]
        who = ", ".join(n.user_id or n.target_id for n in mine)
        _note(session, inc, now, actor, "escalated",
              f"Step {step + 1}" + (f" (repeat {repeat})" if repeat else "") + f": {who}",
              notes)
    for n in intents:
        base = n.key(str(inc.id))
        outs: list[tuple[str, str, str, datetime]] = []  # (key, channel, address, at)
        if n.user_id is None:
            channel = "slack" if n.target_kind == "slack_channel" else n.target_kind
            outs.append((base, channel, n.target_id, n.due_at))
        else:
            ways = lookups.reach(n.user_id, n.urgency)
            if not ways:
                _note(session, inc, now, actor, "notify_failed",
                      f"{n.user_id} has no {n.urgency}-urgency notification rule: not "
                      f"reachable", notes)
            for cm, delay in ways:
                outs.append((f"{base}:{cm.id}", cm.type, cm.address,
                             n.due_at + timedelta(minutes=delay)))
        for key, channel, address, at in outs:
            when = "now" if at <= now else f"at {at.isoformat()}"
            _note(session, inc, now, actor, "notify",
                  f"Would notify {n.user_id or n.target_id} via {channel} {when} "
                  f"({n.urgency} urgency)", notes)
            payload: NotificationIntent = {
                "key": key, "incident_id": inc.id, "number": inc.number, "user": n.user_id,
                "target_kind": n.target_kind, "target": n.target_id, "channel": channel,
                "address": address, "urgency": n.urgency, "step": n.step_index,
                "repeat": n.repeat, "epoch": n.epoch, "due_at": at.isoformat()}
            session.add(OutboxEvent(
                tenant_id=inc.tenant_id, topic=INTENT, aggregate=f"incident:{inc.id}",
                payload=payload, created_at=now, available_at=max(at, now), attempts=0))
            result.intents += 1


def work_due(now: datetime) -> ColumnElement[bool]:
    """True when ``run_pass`` would find anything: watched outbox events past the cursor
    or due for a retry, or escalation steps due (a read, so an idle pass takes no write
    lock)."""
    return or_(outbox_consumer.pending(consumer(PassResult()), now),
               exists().where(Escalation.next_at.is_not(None), Escalation.next_at <= now))


def run_pass(db: Database, now: datetime, retry: Retry | None = None) -> PassResult:
    """One pass of the engine: consume the outbox (its own transactions), then fire the
    due steps (one transaction)."""
    result = PassResult()
    out = outbox_consumer.run(db, consumer(result), now, retry)
    result.parked, result.event_failures = out.parked, out.failed
    with db.write() as session:
        notes: Notes = []
        fire(session, now, result, notes=notes)
        _write_notes(session, notes)
    return result


#: The name of the due steps' failures (their self-alert's ``consumer`` label).
STEPS = "escalation-steps"


def _scheduled_pass(db: Database, now: datetime, retry: Retry) -> Ran:
    done = run_pass(db, now, retry)
    return Ran({"escalations_started": done.started, "escalations_stopped": done.stopped,
                "steps_fired": done.fired, "notification_intents": done.intents},
               list(done.parked),
               [Failure(STEPS, tenant, incident, "fire an escalation step", error)
                for tenant, incident, error in done.failed],
               {CURSOR: done.event_failures})


#: The engine as its owner runs it (``worker.consumers``).
SCHEDULED = Scheduled(CURSOR, (consumer(PassResult()),), work_due, _scheduled_pass,
                      ("escalations_started", "escalations_stopped", "steps_fired",
                       "notification_intents"))
