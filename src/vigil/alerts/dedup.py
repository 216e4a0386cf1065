"""Dedup: the pure core that turns a batch of events and the open alerts they touch into
decisions. No I/O; ``now`` is given."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import FINGERPRINT_VERSION
from vigil.core.severity import SEVERITY_LABELS
from vigil.core.submission import Submission

#: Sources whose notifications carry the alert's start (``startsAt``): for them the
#: identity is the fingerprint *and* the start, so a late re-send of a firing notification
#: of an alert that has since resolved is recognised as such (see ``decide``).
STARTS_AT_SOURCES = frozenset({"alertmanager", "grafana"})


class Outcome(StrEnum):
    CREATED = "created"  # a new alert was opened
    DEDUPLICATED = "deduplicated"  # joined an open alert as a new occurrence
    REDELIVERED = "redelivered"  # the same notification again (e.g. an Alertmanager re-send)
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    UNCHANGED = "unchanged"  # an acknowledge of an already acknowledged alert
    SUPPRESSED = "suppressed"  # a new alert a silence covers: kept, but opens no incident
    UNSUPPRESSED = "unsuppressed"  # a suppressed alert firing again with no silence left
    # Acknowledge/resolve for no open alert; or a trigger that is a stale re-send of a
    # resolved alert (``stale``), recorded in that alert's history and changing nothing.
    IGNORED = "ignored"


@dataclass(slots=True)
class Result:
    """What became of one submission: the answer its sender gets."""

    alert_id: int | None
    fingerprint: str
    outcome: Outcome
    status: str | None


@dataclass(slots=True, eq=False)
class AlertState:
    """An alert row as the core sees it. ``id`` is None until the writer inserts it."""

    id: int | None
    tenant_id: int
    integration_id: int | None
    fingerprint: str
    fingerprint_version: int
    dedup_key: str | None
    source: str
    status: str
    severity: int
    name: str
    summary: str
    description: str | None
    service: str | None
    environment: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    links: list[dict[str, str]]
    raw: dict[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    first_received_at: datetime
    last_received_at: datetime
    occurrences: int
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    incident_id: int | None = None
    suppressed_by: str | None = None


ALERT_COLUMNS: tuple[str, ...] = tuple(
    f for f in AlertState.__dataclass_fields__ if f != "id"
)


@dataclass(slots=True)
class HistoryEntry:
    submission: Submission
    alert: AlertState | None
    outcome: Outcome
    received_at: datetime


@dataclass(slots=True)
class OutboxEntry:
    topic: str
    alert: AlertState
    payload: dict[str, Any]


@dataclass(slots=True)
class Decision:
    new: list[AlertState] = field(default_factory=list)
    changed: dict[int, AlertState] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)
    outcomes: list[tuple[AlertState | None, Outcome]] = field(default_factory=list)


def _open(sub: Submission, now: datetime) -> AlertState:
    ev = sub.event
    return AlertState(
        id=None, tenant_id=sub.tenant_id, integration_id=sub.integration_id,
        fingerprint=sub.fingerprint, fingerprint_version=FINGERPRINT_VERSION,
        dedup_key=ev.dedup_key, source=ev.source, status="firing", severity=int(ev.severity),
        name=ev.name, summary=ev.summary, description=ev.description, service=ev.service,
        environment=ev.environment, labels=ev.labels, annotations=ev.annotations,
        links=ev.links, raw=ev.raw, starts_at=ev.starts_at or now, ends_at=None,
        first_received_at=now, last_received_at=now, occurrences=1,
    )


def _refresh(alert: AlertState, ev: AlertEvent) -> None:
    """A repeat carries the source's latest view of the alert."""
    alert.severity = int(ev.severity)
    alert.name = ev.name
    alert.summary = ev.summary
    alert.description = ev.description
    alert.service = ev.service
    alert.environment = ev.environment
    alert.labels = ev.labels
    alert.annotations = ev.annotations
    alert.links = ev.links
    alert.raw = ev.raw


def _payload(alert: AlertState, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "fingerprint": alert.fingerprint,
        "status": alert.status,
        "severity": SEVERITY_LABELS[alert.severity],
        "name": alert.name,
        "service": alert.service,
        "occurrences": alert.occurrences,
    }
    body.update(extra)
    return body


def stale(last: AlertState, ev: AlertEvent) -> bool:
    """Whether a trigger that found no open alert re-sends a notification of ``last``, the
    latest resolved alert of its fingerprint, rather than firing anew: only for sources
    whose notifications carry their start, when it started before ``last`` did, or at the
    same time if ``last`` was resolved by its source (the source said it ended; an alert
    a person resolved while it still fired at the source is new again when re-sent)."""
    start = ev.starts_at
    if start is None or ev.source not in STARTS_AT_SOURCES or last.starts_at is None:
        return False
    return start < last.starts_at or (
        start == last.starts_at and last.resolved_by == last.source)


def decide(open_alerts: Iterable[AlertState], batch: list[Submission], now: datetime,
           muted: dict[int, str] | None = None, *, outbox: bool = True,
           resolved: Mapping[tuple[int, str], AlertState] | None = None) -> Decision:
    """Apply ``batch`` in order to the open alerts it touches.

    Dedup is on (tenant, fingerprint) among unresolved alerts: a trigger joins the open
    alert, a trigger after resolve opens a new one. A re-sent notification with the same
    ``starts_at`` (Alertmanager re-sends whole groups) is a redelivery, not an occurrence.
    ``resolved`` holds, for triggers that find no open alert, the latest resolved alert of
    their fingerprint (``store.load_last_resolved``): a trigger that is a ``stale`` re-send
    of it is ignored (kept in that alert's history; it opens nothing, pages nobody).
    ``outbox=False`` leaves out the alert-level outbox events (when nothing consumes them).
    """
    current = {(a.tenant_id, a.fingerprint): a for a in open_alerts}
    muted = muted or {}
    # The latest resolved alert of a fingerprint: as loaded, or as this batch resolved it.
    last_resolved = dict(resolved) if resolved else {}
    d = Decision()

    def emit(topic: str, alert: AlertState, **extra: Any) -> None:
        if outbox:
            d.outbox.append(OutboxEntry(topic, alert, _payload(alert, **extra)))

    def touch(alert: AlertState) -> None:
        if alert.id is not None:
            d.changed[alert.id] = alert

    for i, sub in enumerate(batch):
        key = (sub.tenant_id, sub.fingerprint)
        ev = sub.event
        alert = current.get(key)
        if ev.action is Action.TRIGGER:
            if alert is None and last_resolved and (
                    last := last_resolved.get(key)) is not None and stale(last, ev):
                # Nothing changes: the event is kept in the resolved alert's history.
                d.history.append(HistoryEntry(sub, last, Outcome.IGNORED, now))
                d.outcomes.append((last, Outcome.IGNORED))
                continue
            if alert is None:
                alert = _open(sub, now)
                current[key] = alert
                d.new.append(alert)
                if i in muted:
                    alert.status = "suppressed"
                    alert.suppressed_by = muted[i]
                    outcome = Outcome.SUPPRESSED
                    emit("alert.suppressed", alert, muted_by=muted[i])
                else:
                    outcome = Outcome.CREATED
                    emit("alert.created", alert)
            else:
                if alert.status == "suppressed" and i not in muted:
                    alert.status = "firing"
                    alert.suppressed_by = None
                    outcome, topic = Outcome.UNSUPPRESSED, "alert.unsuppressed"
                elif ev.starts_at is not None and ev.starts_at == alert.starts_at:
                    outcome, topic = Outcome.REDELIVERED, ""
                else:
                    outcome, topic = Outcome.DEDUPLICATED, "alert.repeated"
                if outcome is not Outcome.REDELIVERED:
                    alert.occurrences += 1
                alert.last_received_at = now
                _refresh(alert, ev)
                touch(alert)
                if topic:
                    emit(topic, alert)
        elif alert is None:
            outcome = Outcome.IGNORED
        elif ev.action is Action.ACKNOWLEDGE:
            alert.last_received_at = now
            if alert.status == "acknowledged":
                outcome = Outcome.UNCHANGED
            else:
                alert.status = "acknowledged"
                alert.acknowledged_at = now
                alert.acknowledged_by = ev.actor or ev.source
                outcome = Outcome.ACKNOWLEDGED
                emit("alert.acknowledged", alert)
            touch(alert)
        else:  # resolve
            alert.status = "resolved"
            alert.resolved_at = now
            alert.resolved_by = ev.actor or ev.source
            alert.ends_at = ev.ends_at or now
            alert.last_received_at = now
            del current[key]
            last_resolved[key] = alert
            touch(alert)
            outcome = Outcome.RESOLVED
            emit("alert.resolved", alert)
        d.history.append(HistoryEntry(sub, alert, outcome, now))
        d.outcomes.append((alert, outcome))
    return d
