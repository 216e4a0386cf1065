"""Grouping: the pure core that turns alert outcomes into incidents. No I/O; ``now`` is given.

Each trigger comes with its route (``correlation.routing``): the rule that took it and its
group key. A new alert joins the open incident of its group if that incident saw an alert
within the rule's window (default 10 min), reopens its group's incident if that was resolved
within the reopen window (30 min), and otherwise opens a new incident. A rule with a
threshold or ``create_on: all`` opens its incident *pending* (hidden, no notification)
until the threshold or every part is met; ``require_approval`` makes it a *candidate*
until a person confirms it. An incident resolves by itself according to its
``resolve_on``: when all its alerts have resolved (``all``, the default), when the alert
that opened it does (``first``), when the latest alert to join does (``last``), or never.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vigil.alerts.dedup import AlertState, Outcome
from vigil.core.severity import SEVERITY_LABELS
from vigil.core.status import OPEN_STATUSES
from vigil.correlation.routing import DEFAULT_RULE, CompiledRule, Route, default_key
from vigil.incidents.policies import AssignmentRule, assign
from vigil.outbox.contracts import IncidentBefore, IncidentFacts

WINDOW = DEFAULT_RULE.window
REOPEN_WINDOW = timedelta(minutes=30)
RESOLVE_ON = ("all", "first", "last", "never")
#: Alert outcomes that put an alert into an incident.
_OPENS = frozenset({Outcome.CREATED, Outcome.UNSUPPRESSED})
#: Alert outcomes of an alert already open (and so, usually, in an incident).
_REPEATS = frozenset({Outcome.DEDUPLICATED, Outcome.REDELIVERED})
#: Incident statuses of one done with, which keeps no firing alert (see ``refires``).
_DONE_WITH = frozenset({"resolved", "closed"})


@dataclass(slots=True, eq=False)
class IncidentState:
    id: int | None
    tenant_id: int
    number: int | None
    title: str
    summary: str
    status: str
    severity: int
    priority: str | None
    category: str | None
    type: str
    assignee: str | None
    team: str | None
    services: list[str]
    sources: list[str]
    alert_count: int
    open_alert_count: int
    group_key: str
    resolve_on: str
    created_at: datetime
    started_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    merged_into_id: int | None = None
    noise: bool = False
    resolution: str | None = None
    rule_id: int | None = None
    pending: bool = False
    candidate: bool = False
    occurrences: int = 0
    parts_seen: list[int] = field(default_factory=list)
    first_fingerprint: str | None = None
    last_fingerprint: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    escalation_policy: str | None = None
    related_ids: list[int] = field(default_factory=list)
    #: Set when services, sources, parts_seen or resolution changed (the writer updates
    #: those columns only then).
    wide_change: bool = False
    #: The indexed columns that correlation may change (status, severity, pending) as the
    #: writer loaded them, so that it can leave them and their indexes alone when they are
    #: the same (None for an incident not loaded by the writer).
    as_loaded: tuple[Any, ...] | None = None


INCIDENT_COLUMNS: tuple[str, ...] = tuple(f for f in IncidentState.__dataclass_fields__
                                          if f not in ("id", "wide_change", "as_loaded"))


@dataclass(slots=True)
class TimelineEntry:
    incident: IncidentState
    at: datetime
    actor: str
    kind: str
    message: str
    before: IncidentBefore = field(default_factory=lambda: IncidentBefore())
    after: IncidentBefore = field(default_factory=lambda: IncidentBefore())


@dataclass(slots=True)
class IncidentOutbox:
    topic: str
    incident: IncidentState
    payload: IncidentFacts


@dataclass(slots=True)
class IncidentDecision:
    new: list[IncidentState] = field(default_factory=list)
    changed: dict[int, IncidentState] = field(default_factory=dict)
    links: list[tuple[AlertState, IncidentState]] = field(default_factory=list)
    #: Existing alerts that moved to another incident (in ``links`` too; ``refires``).
    moved: list[AlertState] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    outbox: list[IncidentOutbox] = field(default_factory=list)


def group_key(alert: AlertState) -> str:
    """The default rule's group of an alert."""
    return default_key(alert.integration_id, alert.service, alert.name)


def snapshot(inc: IncidentState) -> IncidentBefore:
    return {"status": inc.status, "severity": SEVERITY_LABELS[inc.severity],  # type: ignore[typeddict-item]
            "alert_count": inc.alert_count, "open_alert_count": inc.open_alert_count}


def _payload(inc: IncidentState, kind: str, previous: IncidentBefore) -> IncidentFacts:
    """The ``incident.*`` outbox payload (``outbox.contracts.IncidentChange`` once the
    writer adds the incident's id and number)."""
    return {"status": inc.status, "severity": SEVERITY_LABELS[inc.severity],  # type: ignore[typeddict-item]
            "title": inc.title, "services": inc.services, "alert_count": inc.alert_count,
            "team": inc.team, "assignee": inc.assignee,
            "escalation_policy": inc.escalation_policy, "category": inc.category,
            "previous": previous, "actor": "system", "kind": kind}


def _who(inc: IncidentState) -> str:
    parts = [f"team {inc.team}" if inc.team else "", inc.assignee or "",
             f"escalation policy {inc.escalation_policy}" if inc.escalation_policy else ""]
    return ", ".join(p for p in parts if p)


def default_route(alert: AlertState) -> Route:
    return Route(DEFAULT_RULE, group_key(alert))


def _new_incident(alert: AlertState, rt: Route, now: datetime) -> IncidentState:
    rule = rt.rule
    return IncidentState(
        id=None, tenant_id=alert.tenant_id, number=None,
        title=rt.title(alert.summary or alert.name),
        summary=alert.description or alert.summary, status="firing",
        severity=rule.severity or alert.severity, priority=rule.priority,
        category=rule.category, type="rule", assignee=None, team=rule.team,
        services=[alert.service] if alert.service else [], sources=[alert.source],
        alert_count=0, open_alert_count=0, group_key=rt.key, resolve_on=rule.resolve_on,
        created_at=now, started_at=alert.starts_at or now, last_seen_at=now,
        rule_id=rule.id or None, pending=rule.gated, candidate=rule.require_approval,
        first_fingerprint=alert.fingerprint,
    )


def reopens(inc: IncidentState, now: datetime, reopen_window: timedelta = REOPEN_WINDOW,
            ) -> bool:
    """Whether an alert firing now reopens ``inc``: resolved within the reopen window."""
    return inc.status == "resolved" and inc.resolved_at is not None \
        and inc.resolved_at >= now - reopen_window


def refires(alert: AlertState, inc: IncidentState) -> bool:
    """Whether a repeat of ``alert`` (a trigger for it while it is open) takes it out of
    its incident ``inc``: an incident that is resolved (a person resolved it and left its
    alerts open) or closed keeps no firing alert, which reopens it (``reopens``) or goes
    to its group's open incident or a new one, as a new alert would. Not under
    ``resolve_on`` first or last, whose incidents resolve with other alerts still firing
    on purpose (and would otherwise reopen at the next re-send of those)."""
    return alert.status in ("firing", "acknowledged") and inc.status in _DONE_WITH \
        and inc.resolve_on in ("all", "never")


def _met(inc: IncidentState, rule: CompiledRule) -> bool:
    """Whether a pending incident's rule is satisfied: enough alerts, enough occurrences,
    and (create_on "all") every part of the condition seen."""
    return (inc.alert_count >= rule.threshold_alerts
            and inc.occurrences >= rule.threshold_occurrences
            and (rule.create_on != "all" or len(set(inc.parts_seen)) >= len(rule.parts)))


def group_alerts(
    known: Iterable[IncidentState],
    outcomes: list[tuple[AlertState | None, Outcome]],
    now: datetime,
    *,
    routes: list[Route | None] | None = None,
    assignments: Sequence[AssignmentRule] = (),
    window: timedelta | None = None,
    reopen_window: timedelta = REOPEN_WINDOW,
) -> IncidentDecision:
    """Apply the batch's alert outcomes, in order, to the incidents they touch.

    ``routes`` (aligned with ``outcomes``) gives each trigger's rule and group key; without
    it every alert takes the default rule. ``known`` holds, for the batch's group keys,
    each group's latest incident that is open or was resolved within the reopen window,
    and the incidents of the batch's existing alerts. ``window`` overrides the rules'.
    """
    d = IncidentDecision()
    by_id = {inc.id: inc for inc in known if inc.id is not None}
    by_key: dict[tuple[int, str], IncidentState] = {}
    for inc in sorted(by_id.values(), key=lambda i: i.created_at):
        # Only incidents a new alert may join or reopen stand for their group; the others
        # are here because an alert of theirs is in the batch.
        if inc.status in OPEN_STATUSES or (
                inc.status == "resolved" and inc.resolved_at is not None
                and inc.resolved_at >= now - reopen_window):
            by_key[inc.tenant_id, inc.group_key] = inc
    of_alert: dict[int, IncidentState] = {}  # new alerts of this batch -> incident
    updated: set[int] = set()

    def touch(inc: IncidentState) -> None:
        if inc.id is not None:
            d.changed[inc.id] = inc

    # Alerts joining an incident in one batch make one timeline entry, not one each.
    joins: dict[int, tuple[IncidentState, IncidentBefore, list[str]]] = {}

    def flush(inc: IncidentState) -> None:
        pending = joins.pop(id(inc), None)
        if pending is None:
            return
        _, before, names = pending
        if len(names) == 1:
            message = f"Alert {names[0]} joined"
        else:
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more"
                                             if len(names) > 10 else "")
            message = f"{len(names)} alerts joined: {shown}"
        d.timeline.append(TimelineEntry(inc, now, "system", "alert_added", message, before,
                                        snapshot(inc)))

    def note(inc: IncidentState, kind: str, message: str, before: IncidentBefore,
             actor: str = "system") -> None:
        flush(inc)
        d.timeline.append(TimelineEntry(inc, now, actor, kind, message, before, snapshot(inc)))

    def emit(topic: str, inc: IncidentState, kind: str, previous: IncidentBefore) -> None:
        if not inc.pending:  # a pending incident is nobody's business yet
            d.outbox.append(IncidentOutbox(topic, inc, _payload(inc, kind, previous)))

    def announce(inc: IncidentState) -> None:
        """An incident becoming visible: created, or a candidate awaiting confirmation."""
        d.outbox.append(IncidentOutbox(
            "incident.candidate" if inc.candidate else "incident.created", inc,
            _payload(inc, "created", {})))

    def activate(inc: IncidentState, rule: CompiledRule) -> None:
        if inc.pending and inc.status in OPEN_STATUSES and _met(inc, rule):
            before = snapshot(inc)
            inc.pending = False
            touch(inc)
            note(inc, "activated", f"Rule {rule.name} met: {inc.alert_count} alerts, "
                 f"{inc.occurrences} occurrences", before, actor=f"rule:{rule.name}")
            announce(inc)

    for n, (alert, outcome) in enumerate(outcomes):
        if alert is None:
            continue
        rt = routes[n] if routes is not None else None
        assigned: AssignmentRule | None = None
        # The incident a repeat of an open alert leaves, done with (``refires``).
        left: IncidentState | None = None
        if outcome in _REPEATS:
            own = of_alert.get(id(alert)) or (
                by_id.get(alert.incident_id) if alert.incident_id is not None else None)
            if own is not None and refires(alert, own):
                left = own
        if outcome in _OPENS or left is not None:
            if rt is None:
                rt = default_route(alert)
            rule = rt.rule
            key = rt.key
            candidate = by_key.get((alert.tenant_id, key))
            if left is not None and reopens(left, now, reopen_window):
                candidate = left  # its own incident, resolved lately: reopened below
            if candidate is not None and candidate.status in OPEN_STATUSES and \
                    candidate.last_seen_at >= now - (window or rule.window):
                inc = candidate
                # The incident as it was before this batch's first alert joined it (later
                # joins in the batch share one timeline entry, and so its "before").
                before = snapshot(inc) if id(inc) not in joins else None
                topic = "incident.updated"
            elif candidate is not None and candidate.status == "resolved" \
                    and candidate.resolved_at is not None \
                    and candidate.resolved_at >= now - reopen_window:
                inc = candidate
                before = snapshot(inc)
                inc.status = "firing"
                inc.resolved_at = None
                note(inc, "reopened", f"Reopened: {alert.name} fired again", before)
                emit("incident.status_changed", inc, "reopened", before)
                before = snapshot(inc) if id(inc) not in joins else None
                topic = "incident.updated"
            else:
                if candidate is not None and candidate.pending and \
                        candidate.status in OPEN_STATUSES:
                    # Its window passed without the rule being met: it never becomes one.
                    before = snapshot(candidate)
                    candidate.status = "deleted"
                    candidate.resolution = "rule not met within its window"
                    candidate.wide_change = True
                    touch(candidate)
                    note(candidate, "expired", "Expired: the rule's threshold was not met "
                         "within its window", before, actor=f"rule:{rule.name}")
                inc = _new_incident(alert, rt, now)
                assigned = assign(assignments, inc) if assignments else None
                if assigned is not None:
                    spec = assigned.spec
                    inc.team = inc.team or spec.team
                    inc.assignee = inc.assignee or spec.assignee
                    inc.escalation_policy = spec.escalation_policy
                by_key[alert.tenant_id, key] = inc
                d.new.append(inc)
                before = {}
                topic = "incident.created"
            if inc is not left:
                inc.alert_count += 1
                inc.open_alert_count += 1
                if left is not None:  # it moves out of the incident it was in
                    left_before = snapshot(left)
                    left.alert_count = max(0, left.alert_count - 1)
                    left.open_alert_count = max(0, left.open_alert_count - 1)
                    touch(left)
                    note(left, "alert_moved", f"Alert {alert.name} fired again after this "
                         f"incident was {left.status}: it moved to another incident",
                         left_before)
                    d.moved.append(alert)
            if outcome is not Outcome.REDELIVERED:
                inc.occurrences += 1
            grew = False  # whether subscribers see a difference (not just one more alert)
            if rule.severity is None and alert.severity > inc.severity:
                inc.severity = alert.severity
                grew = True
            inc.last_seen_at = now
            inc.last_fingerprint = alert.fingerprint
            if rt.parts and not rt.parts.issubset(inc.parts_seen):
                inc.parts_seen = sorted(rt.parts.union(inc.parts_seen))
                inc.wide_change = True
            if alert.service and alert.service not in inc.services:
                inc.services = [*inc.services, alert.service]
                grew = inc.wide_change = True
            if alert.source not in inc.sources:
                inc.sources = [*inc.sources, alert.source]
                grew = inc.wide_change = True
            touch(inc)
            of_alert[id(alert)] = inc
            if inc is not left:
                d.links.append((alert, inc))
            if topic == "incident.created":
                if inc.pending:
                    note(inc, "created", f"Opened by alert {alert.name}, pending until rule "
                         f"{rule.name} is met", {}, actor=f"rule:{rule.name}")
                else:
                    note(inc, "created", f"Opened by alert {alert.name}", {},
                         actor=f"rule:{rule.name}")
                if assigned is not None:
                    d.timeline.append(TimelineEntry(
                        inc, now, f"rule:{assigned.spec.name}", "assigned",
                        f"Assigned to {_who(inc)} by rule {assigned.spec.name}", {},
                        snapshot(inc)))
                if inc.pending:
                    activate(inc, rule)
                else:
                    announce(inc)
            elif inc is not left:  # (an alert reopening its own incident did not join it)
                pending = joins.get(id(inc))
                if pending is None:
                    pending = joins[id(inc)] = (inc, before or {}, [])
                pending[2].append(alert.name)
                # One incident.updated per incident per batch, and only when its severity,
                # services or sources changed: an alert joining is on the timeline, and
                # notifying about each one would be noise.
                if grew and id(inc) not in updated:
                    updated.add(id(inc))
                    emit(topic, inc, "updated", pending[1])
                if inc.pending:
                    activate(inc, rule)
            continue
        found = of_alert.get(id(alert)) or (
            by_id.get(alert.incident_id) if alert.incident_id is not None else None)
        if found is None:
            continue
        inc = found
        if outcome in (Outcome.DEDUPLICATED, Outcome.REDELIVERED):
            if rt is None or rt.rule.severity is None:
                inc.severity = max(inc.severity, alert.severity)
            inc.last_seen_at = now
            if outcome is Outcome.DEDUPLICATED:
                inc.occurrences += 1
                if rt is not None:
                    activate(inc, rt.rule)
            touch(inc)
        elif outcome is Outcome.RESOLVED:
            before = snapshot(inc)
            inc.open_alert_count = max(0, inc.open_alert_count - 1)
            touch(inc)
            done = (inc.resolve_on == "all" and inc.open_alert_count == 0) or (
                inc.resolve_on == "first" and alert.fingerprint == inc.first_fingerprint) or (
                inc.resolve_on == "last" and alert.fingerprint == inc.last_fingerprint)
            if inc.status in OPEN_STATUSES and done:
                inc.status = "resolved"
                inc.resolved_at = now
                note(inc, "resolved", f"Resolved: alert {alert.name} resolved "
                     f"(resolve on {inc.resolve_on})", before)
                emit("incident.status_changed", inc, "resolved", before)
    for inc, _, _ in list(joins.values()):
        flush(inc)
    return d
