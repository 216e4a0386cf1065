"""Incidents through the API: lists, one incident with its alerts and timeline, and the
actions people take. Services never commit; the API owns the unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, insert, or_, select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Session

from vigil.alerts.models import Alert, AlertEventRecord
from vigil.core.severity import SEVERITY_LABELS, Severity
from vigil.core.status import OPEN_STATUSES, STATUSES
from vigil.db.locks import fingerprint_lock, group_lock, lock_keys
from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.http.pagination import keyset_page
from vigil.incidents.lifecycle import next_status
from vigil.incidents.models import Incident, IncidentEvent
from vigil.outbox.consumer import Parked
from vigil.outbox.contracts import IncidentBefore, IncidentChange
from vigil.outbox.models import OutboxEvent

SORTS: dict[str, Any] = {"created_at": Incident.created_at, "last_seen_at": Incident.last_seen_at,
                         "severity": Incident.severity, "id": Incident.id}
_DONE = {"acknowledge": "Acknowledged", "investigate": "Investigation started",
         "resolve": "Resolved", "close": "Closed", "reopen": "Reopened"}


@dataclass(slots=True)
class IncidentFilter:
    status: list[str] | None = None
    severity: list[str] | None = None
    priority: list[str] | None = None
    service: str | None = None
    team: str | None = None
    assignee: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    candidate: bool = False  # candidates only (else: confirmed incidents only)
    type: str | None = None
    category: str | None = None


def _has_service(session: Session, service: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return Incident.services.op("@>")(func.jsonb_build_array(service))
    each = func.json_each(Incident.services).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == service))


def _severity_levels(names: list[str]) -> list[int]:
    try:
        return [int(Severity[s.upper()]) for s in names]
    except KeyError:
        raise InvalidInput("severity must be one of critical, high, warning, info, low",
                           field="severity") from None


def list_incidents(
    session: Session, *, tenant_id: int, filters: IncidentFilter, sort: str = "-created_at",
    limit: int = 50, cursor: str | None = None,
) -> tuple[list[Incident], str | None]:
    f = filters
    # Pending incidents (a rule's threshold not met yet) are nobody's business; candidates
    # are listed apart, until a person confirms or dismisses them.
    stmt = select(Incident).where(Incident.tenant_id == tenant_id,
                                  Incident.pending.is_(False),
                                  Incident.candidate.is_(f.candidate))
    if f.candidate:  # dismissed candidates are done with
        stmt = stmt.where(Incident.status != "deleted")
    if f.type:
        stmt = stmt.where(Incident.type == f.type)
    if f.category:
        stmt = stmt.where(Incident.category == f.category)
    if f.status:
        if any(s not in STATUSES for s in f.status):
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
        stmt = stmt.where(Incident.status.in_(f.status))
    if f.severity:
        stmt = stmt.where(Incident.severity.in_(_severity_levels(f.severity)))
    if f.priority:
        stmt = stmt.where(Incident.priority.in_(f.priority))
    if f.service:
        stmt = stmt.where(_has_service(session, f.service))
    if f.team:
        stmt = stmt.where(Incident.team == f.team)
    if f.assignee:
        stmt = stmt.where(Incident.assignee == f.assignee)
    if f.text:
        pattern = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Incident.title.ilike(pattern, escape="\\"),
                              Incident.summary.ilike(pattern, escape="\\")))
    if f.since:
        stmt = stmt.where(Incident.last_seen_at >= f.since)
    if f.until:
        stmt = stmt.where(Incident.created_at < f.until)
    return keyset_page(session, stmt, sorts=SORTS, id_col=Incident.id, sort=sort, limit=limit,
                       cursor=cursor)


def counts_by_status(session: Session, *, tenant_id: int) -> dict[str, int]:
    rows = session.execute(select(Incident.status, func.count()).where(
        Incident.tenant_id == tenant_id, Incident.pending.is_(False),
        Incident.candidate.is_(False)).group_by(Incident.status))
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    counts["candidate"] = int(session.scalar(select(func.count()).where(
        Incident.tenant_id == tenant_id, Incident.candidate.is_(True),
        Incident.status.in_(OPEN_STATUSES))) or 0)
    return counts


def get_incident(session: Session, *, tenant_id: int, incident_id: int,
                 for_update: bool = False) -> Incident:
    stmt = select(Incident).where(Incident.id == incident_id, Incident.tenant_id == tenant_id)
    if for_update:
        stmt = stmt.with_for_update()
    inc = session.scalar(stmt)
    if inc is None:
        raise NotFound(f"no incident {incident_id}", field="id")
    return inc


def incident_alerts(session: Session, *, incident_id: int, limit: int = 200,
                    before: int | None = None) -> list[Alert]:
    """The incident's alerts, newest first; ``before`` (an alert id) pages on."""
    query = select(Alert).where(Alert.incident_id == incident_id)
    if before is not None:
        query = query.where(Alert.id < before)
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(limit)))


def timeline(session: Session, *, incident_id: int, limit: int = 500) -> list[IncidentEvent]:
    return list(session.scalars(select(IncidentEvent).where(
        IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id).limit(limit)))


def recent_timeline(session: Session, *, incident_id: int, limit: int,
                    before: int | None = None) -> tuple[list[IncidentEvent], bool]:
    """The newest ``limit`` timeline entries (before the entry ``before``, if given), oldest
    first, and whether there are earlier ones."""
    query = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
    if before is not None:
        query = query.where(IncidentEvent.id < before)
    rows = list(session.scalars(query.order_by(IncidentEvent.id.desc()).limit(limit + 1)))
    return rows[:limit][::-1], len(rows) > limit


def snapshot(inc: Incident) -> IncidentBefore:
    return {"status": inc.status, "severity": SEVERITY_LABELS[inc.severity],  # type: ignore[typeddict-item]
            "priority": inc.priority, "assignee": inc.assignee, "team": inc.team,
            "title": inc.title, "category": inc.category, "noise": inc.noise}


def record(session: Session, inc: Incident, *, now: datetime, actor: str, kind: str,
            message: str, before: IncidentBefore, topic: str) -> None:
    after = snapshot(inc)
    session.add(IncidentEvent(tenant_id=inc.tenant_id, incident_id=inc.id, at=now, actor=actor,
                              kind=kind, message=message, before=before, after=after))
    payload: IncidentChange = {
        "incident_id": inc.id, "number": inc.number, "status": after["status"],
        "severity": after["severity"], "title": inc.title, "priority": inc.priority,
        "assignee": inc.assignee, "team": inc.team, "category": inc.category,
        "noise": inc.noise, "services": list(inc.services or []),
        "escalation_policy": inc.escalation_policy, "alert_count": inc.alert_count,
        "previous": before, "actor": actor, "kind": kind}
    session.add(OutboxEvent(tenant_id=inc.tenant_id, topic=topic, aggregate=f"incident:{inc.id}",
                            payload=payload, created_at=now, available_at=now, attempts=0))


def _lock_open_alerts(session: Session, *, tenant_id: int, incident_id: int) -> None:
    """On PostgreSQL, take the advisory locks the ingest writer takes for the incident's
    group and its open alerts' fingerprints (``db.locks.lock_keys``), before the
    incident's row, as the writer does: a batch repeating or resolving one of those alerts
    then runs wholly before or after this resolve, never with a view of the alert from
    before it (which it would write back as open)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":  # SQLite: one writer at a time anyway
        return
    group = session.scalar(select(Incident.group_key).where(
        Incident.id == incident_id, Incident.tenant_id == tenant_id))
    if group is None:
        return  # (not found: get_incident says so)
    fingerprints = session.scalars(select(Alert.fingerprint).where(
        Alert.incident_id == incident_id, Alert.status != "resolved"))
    lock_keys(conn, [group_lock(tenant_id, group),
                     *(fingerprint_lock(tenant_id, fp) for fp in fingerprints)])


def _resolve_alerts(session: Session, inc: Incident, *, actor: str, now: datetime,
                    note: str | None) -> int:
    """Resolve the incident's open alerts as an alert resolve does (status, end and resolve
    times, who; an ``alert_events`` row each), and answer how many there were."""
    rows = session.execute(
        sa_update(Alert).where(Alert.incident_id == inc.id, Alert.status != "resolved")
        .values(status="resolved", resolved_at=now, resolved_by=actor, ends_at=now)
        .returning(Alert.id, Alert.integration_id, Alert.fingerprint)
        .execution_options(synchronize_session=False)).all()
    if rows:
        payload = {"action": "resolve", "via": "incident", "incident_id": inc.id,
                   "note": note}
        session.execute(insert(AlertEventRecord), [
            {"tenant_id": inc.tenant_id, "alert_id": alert_id, "integration_id": integration_id,
             "fingerprint": fp, "action": "resolve", "outcome": "resolved", "actor": actor,
             "received_at": now, "payload": payload}
            for alert_id, integration_id, fp in sorted(rows)])
    inc.open_alert_count = 0
    return len(rows)


def act(session: Session, *, tenant_id: int, incident_id: int, action: str, actor: str,
        now: datetime, note: str | None = None, resolve_alerts: bool = True) -> Incident:
    """Move an incident through its life. Repeating an action is a no-op; an action its
    status forbids is a 409 naming the status. Resolving resolves the incident's open
    alerts too (as PagerDuty does), unless ``resolve_alerts`` is false."""
    resolving = action == "resolve" and resolve_alerts
    if resolving:
        _lock_open_alerts(session, tenant_id=tenant_id, incident_id=incident_id)
    inc = get_incident(session, tenant_id=tenant_id, incident_id=incident_id, for_update=True)
    target = next_status(inc.status, action)
    if target is None:
        if action == "acknowledge" and not session.scalars(select(IncidentEvent.id).where(
                IncidentEvent.incident_id == inc.id, IncidentEvent.actor == actor,
                IncidentEvent.kind.in_(("acknowledged", "also_acknowledged")))).first():
            # Someone else acknowledging too: kept, and told to escalation (multi-ack).
            record(session, inc, now=now, actor=actor, kind="also_acknowledged",
                   message=f"Also acknowledged by {actor}", before=snapshot(inc),
                   topic="incident.status_changed")
        return inc
    before = snapshot(inc)
    inc.status = target
    if action == "acknowledge" or (action == "investigate" and inc.acknowledged_at is None):
        inc.acknowledged_at = now
    resolved_alerts = 0
    if action == "resolve":
        inc.resolved_at = now
        if note:
            inc.resolution = note
        if resolving:
            resolved_alerts = _resolve_alerts(session, inc, actor=actor, now=now, note=note)
    elif action == "close":
        inc.closed_at = now
    elif action == "reopen":
        inc.resolved_at = None
    message = f"{_DONE[action]} by {actor}"
    if resolved_alerts:
        message += f", with its {resolved_alerts} open alert{'s' * (resolved_alerts != 1)}"
    if note:
        message += f": {note}"
    record(session, inc, now=now, actor=actor, kind=target if action != "reopen" else "reopened",
            message=message, before=before, topic="incident.status_changed")
    return inc


def comment(session: Session, *, tenant_id: int, incident_id: int, actor: str, now: datetime,
            body: str) -> IncidentEvent:
    inc = get_incident(session, tenant_id=tenant_id, incident_id=incident_id)
    event = IncidentEvent(tenant_id=tenant_id, incident_id=inc.id, at=now, actor=actor,
                          kind="comment", message=body, before={}, after={})
    session.add(event)
    session.flush()
    return event


def update(session: Session, *, tenant_id: int, incident_id: int, actor: str, now: datetime,
           changes: dict[str, Any]) -> Incident:
    inc = get_incident(session, tenant_id=tenant_id, incident_id=incident_id, for_update=True)
    before = snapshot(inc)
    if "severity" in changes and changes["severity"] is not None:
        changes["severity"] = int(Severity[changes["severity"].upper()])
    changed = {k: v for k, v in changes.items() if getattr(inc, k) != v}
    if not changed:
        return inc
    for k, v in changed.items():
        setattr(inc, k, v)
    shown = ", ".join(f"{k} = {(SEVERITY_LABELS[v] if k == 'severity' else v)!r}"
                      for k, v in changed.items())
    record(session, inc, now=now, actor=actor, kind="updated",
            message=f"{actor} set {shown}", before=before, topic="incident.updated")
    return inc





def merge(session: Session, *, tenant_id: int, source_id: int, target_id: int, actor: str,
          now: datetime) -> Incident:
    """Merge ``source`` into ``target``: its alerts move, it becomes ``merged`` (terminal),
    and both timelines record it."""
    if source_id == target_id:
        raise InvalidInput("an incident cannot be merged into itself", field="into")
    first, second = sorted((source_id, target_id))  # lock in id order: no deadlocks
    locked = {i: get_incident(session, tenant_id=tenant_id, incident_id=i, for_update=True)
              for i in (first, second)}
    src, tgt = locked[source_id], locked[target_id]
    if src.status in ("merged", "deleted"):
        raise Conflict(f"cannot merge an incident that is {src.status}", field="status")
    if tgt.status in ("merged", "deleted", "closed"):
        raise Conflict(f"cannot merge into an incident that is {tgt.status}", field="into")
    src_before, tgt_before = snapshot(src), snapshot(tgt)
    session.execute(sa_update(Alert).where(Alert.incident_id == src.id)
                    .values(incident_id=tgt.id))
    tgt.alert_count += src.alert_count
    tgt.open_alert_count += src.open_alert_count
    tgt.severity = max(tgt.severity, src.severity)
    tgt.services = [*tgt.services, *(x for x in src.services if x not in tgt.services)]
    tgt.sources = [*tgt.sources, *(x for x in src.sources if x not in tgt.sources)]
    tgt.started_at = min(tgt.started_at, src.started_at)
    tgt.last_seen_at = max(tgt.last_seen_at, src.last_seen_at)
    reopened = tgt.status == "resolved" and src.open_alert_count > 0
    if reopened:  # firing alerts moved in: it is firing again, and escalates again
        tgt.status, tgt.resolved_at = "firing", None
    src.status = "merged"
    src.merged_into_id = tgt.id
    src.open_alert_count = 0
    record(session, src, now=now, actor=actor, kind="merged",
            message=f"Merged into INC-{tgt.number} by {actor}", before=src_before,
            topic="incident.merged")
    record(session, tgt, now=now, actor=actor, kind="merged_in",
            message=f"INC-{src.number} merged in by {actor} ({src.alert_count} alerts)"
                    + (", reopening it" if reopened else ""),
            before=tgt_before,
            topic="incident.status_changed" if reopened else "incident.updated")
    return tgt


def note_parked(session: Session, parked: Parked, now: datetime) -> None:
    """An outbox consumer set an event of this incident aside: say so on its timeline (in
    the transaction that parks it)."""
    if parked.incident_id is None:
        return
    session.add(IncidentEvent(
        tenant_id=parked.tenant_id, incident_id=parked.incident_id, at=now, actor="vigil",
        kind="consumer_failed", before={}, after={},
        message=f"Vigil's {parked.consumer} could not handle {parked.topic} (event "
                f"{parked.event_id}) after {parked.attempts} attempts and set it aside: "
                f"{parked.error[:300]}"))
