"""Correlation: the pure core that groups alerts into incidents. No I/O; ``now`` is given.

The default rule groups alerts by integration, service and alert name: a new alert joins
the open incident of its group if that incident saw an alert within the window (10 min),
reopens its group's incident if that was resolved within the reopen window (30 min), and
otherwise opens a new incident. An incident resolves by itself according to its
``resolve_on``: when all its alerts have resolved (``all``, the default), when the first
one does (``first``), or never by itself (``never``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vigil.incidents.models import OPEN_STATUSES
from vigil.pipeline.dedup import AlertState, Outcome, Submission
from vigil.pipeline.event import SEVERITY_LABELS

WINDOW = timedelta(minutes=10)
REOPEN_WINDOW = timedelta(minutes=30)
RESOLVE_ON = ("all", "first", "never")
#: Alert outcomes that put an alert into an incident.
_OPENS = frozenset({Outcome.CREATED, Outcome.UNSUPPRESSED})


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


INCIDENT_COLUMNS: tuple[str, ...] = tuple(f for f in IncidentState.__dataclass_fields__
                                          if f != "id")


@dataclass(slots=True)
class TimelineEntry:
    incident: IncidentState
    at: datetime
    actor: str
    kind: str
    message: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class IncidentOutbox:
    topic: str
    incident: IncidentState
    payload: dict[str, Any]


@dataclass(slots=True)
class IncidentDecision:
    new: list[IncidentState] = field(default_factory=list)
    changed: dict[int, IncidentState] = field(default_factory=dict)
    links: list[tuple[AlertState, IncidentState]] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    outbox: list[IncidentOutbox] = field(default_factory=list)


def group_key(alert: AlertState) -> str:
    """The default rule's group: same integration, same service, same alert name."""
    return _key(alert.integration_id, alert.service, alert.name)


def submission_group_key(sub: Submission) -> str:
    """The group a trigger would open or join, known before dedup runs (for locking)."""
    return _key(sub.integration_id, sub.event.service, sub.event.name)


def _key(integration_id: int | None, service: str | None, name: str) -> str:
    return f"default:{integration_id or 0}:{service or ''}:{name}"


def snapshot(inc: IncidentState) -> dict[str, Any]:
    return {"status": inc.status, "severity": SEVERITY_LABELS[inc.severity],
            "alert_count": inc.alert_count, "open_alert_count": inc.open_alert_count}


def _payload(inc: IncidentState, **extra: Any) -> dict[str, Any]:
    return {"status": inc.status, "severity": SEVERITY_LABELS[inc.severity], "title": inc.title,
            "services": inc.services, "alert_count": inc.alert_count, **extra}


def _new_incident(alert: AlertState, key: str, now: datetime) -> IncidentState:
    return IncidentState(
        id=None, tenant_id=alert.tenant_id, number=None, title=alert.summary or alert.name,
        summary=alert.description or alert.summary, status="firing", severity=alert.severity,
        priority=None, category=None, type="rule", assignee=None, team=None,
        services=[alert.service] if alert.service else [], sources=[alert.source],
        alert_count=0, open_alert_count=0, group_key=key, resolve_on="all", created_at=now,
        started_at=alert.starts_at or now, last_seen_at=now,
    )


def correlate(
    known: Iterable[IncidentState],
    outcomes: list[tuple[AlertState | None, Outcome]],
    now: datetime,
    *,
    window: timedelta = WINDOW,
    reopen_window: timedelta = REOPEN_WINDOW,
) -> IncidentDecision:
    """Apply the batch's alert outcomes, in order, to the incidents they touch.

    ``known`` holds, for the batch's group keys, each group's latest incident that is
    open or was resolved within the reopen window, and the incidents of the batch's
    existing alerts.
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
    joins: dict[int, tuple[IncidentState, dict[str, Any], list[str]]] = {}

    def flush(inc: IncidentState) -> None:
        pending = joins.pop(id(inc), None)
        if pending is None:
            return
        _, before, names = pending
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10
                                         else "")
        message = (f"Alert {shown} joined" if len(names) == 1
                   else f"{len(names)} alerts joined: {shown}")
        d.timeline.append(TimelineEntry(inc, now, "system", "alert_added", message, before,
                                        snapshot(inc)))

    def note(inc: IncidentState, kind: str, message: str, before: dict[str, Any],
             actor: str = "system") -> None:
        flush(inc)
        d.timeline.append(TimelineEntry(inc, now, actor, kind, message, before, snapshot(inc)))

    for alert, outcome in outcomes:
        if alert is None:
            continue
        if outcome in _OPENS:
            key = group_key(alert)
            candidate = by_key.get((alert.tenant_id, key))
            if candidate is not None and candidate.status in OPEN_STATUSES and \
                    candidate.last_seen_at >= now - window:
                inc = candidate
                before = snapshot(inc)
                topic = "incident.updated"
            elif candidate is not None and candidate.status == "resolved" \
                    and candidate.resolved_at is not None \
                    and candidate.resolved_at >= now - reopen_window:
                inc = candidate
                before = snapshot(inc)
                inc.status = "firing"
                inc.resolved_at = None
                note(inc, "reopened", f"Reopened: {alert.name} fired again", before)
                d.outbox.append(IncidentOutbox("incident.status_changed", inc,
                                               _payload(inc, previous="resolved")))
                before = snapshot(inc)
                topic = "incident.updated"
            else:
                inc = _new_incident(alert, key, now)
                by_key[alert.tenant_id, key] = inc
                d.new.append(inc)
                before = {}
                topic = "incident.created"
            inc.alert_count += 1
            inc.open_alert_count += 1
            inc.severity = max(inc.severity, alert.severity)
            inc.last_seen_at = now
            if alert.service and alert.service not in inc.services:
                inc.services = [*inc.services, alert.service]
            if alert.source not in inc.sources:
                inc.sources = [*inc.sources, alert.source]
            touch(inc)
            of_alert[id(alert)] = inc
            d.links.append((alert, inc))
            if topic == "incident.created":
                note(inc, "created", f"Opened by alert {alert.name}", before)
                d.outbox.append(IncidentOutbox(topic, inc, _payload(inc)))
            else:
                joins.setdefault(id(inc), (inc, before, []))[2].append(alert.name)
                if id(inc) not in updated:  # one incident.updated per incident per batch
                    updated.add(id(inc))
                    d.outbox.append(IncidentOutbox(topic, inc, _payload(inc)))
            continue
        found = of_alert.get(id(alert)) or (
            by_id.get(alert.incident_id) if alert.incident_id is not None else None)
        if found is None:
            continue
        inc = found
        if outcome in (Outcome.DEDUPLICATED, Outcome.REDELIVERED):
            inc.severity = max(inc.severity, alert.severity)
            inc.last_seen_at = now
            touch(inc)
        elif outcome is Outcome.RESOLVED:
            before = snapshot(inc)
            inc.open_alert_count = max(0, inc.open_alert_count - 1)
            touch(inc)
            done = inc.resolve_on == "first" or (
                inc.resolve_on == "all" and inc.open_alert_count == 0)
            if inc.status in OPEN_STATUSES and done:
                previous = inc.status
                inc.status = "resolved"
                inc.resolved_at = now
                note(inc, "resolved", f"Resolved: alert {alert.name} resolved "
                     f"(resolve on {inc.resolve_on})", before)
                d.outbox.append(IncidentOutbox("incident.status_changed", inc,
                                               _payload(inc, previous=previous)))
    for inc, _, _ in list(joins.values()):
        flush(inc)
    return d
