"""Incident actions beyond the status machine: candidates, assignment, manual creation,
split and bulk actions. Each change is recorded on the timeline with its outbox event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Session

from vigil.alerts.models import Alert
from vigil.core.severity import Severity
from vigil.core.status import OPEN_STATUSES
from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.incidents import store as incident_store
from vigil.incidents.models import Incident
from vigil.incidents.service import act, get_incident, record, snapshot, update


def confirm(session: Session, *, tenant_id: int, incident_id: int, actor: str,
            now: datetime) -> Incident:
    """A person confirms a candidate incident: it becomes a real one (and is announced)."""
    inc = get_incident(session, tenant_id=tenant_id, incident_id=incident_id, for_update=True)
    if not inc.candidate:
        raise Conflict(f"INC-{inc.number} is not a candidate", field="candidate")
    if inc.status == "deleted":
        raise Conflict(f"INC-{inc.number} was dismissed", field="status")
    before = snapshot(inc)
    inc.candidate = False
    record(session, inc, now=now, actor=actor, kind="confirmed",
           message=f"Confirmed by {actor}", before=before, topic="incident.created")
    return inc


def dismiss(session: Session, *, tenant_id: int, incident_id: int, actor: str, now: datetime,
            note: str | None = None) -> Incident:
    """A person dismisses a candidate: it is deleted (kept, with its timeline)."""
    inc = get_incident(session, tenant_id=tenant_id, incident_id=incident_id, for_update=True)
    if not inc.candidate:
        raise Conflict(f"INC-{inc.number} is not a candidate; resolve or close it instead",
                       field="candidate")
    if inc.status == "deleted":
        return inc
    before = snapshot(inc)
    inc.status = "deleted"
    inc.resolution = note or "dismissed candidate"
    record(session, inc, now=now, actor=actor, kind="dismissed",
           message=f"Dismissed by {actor}" + (f": {note}" if note else ""), before=before,
           topic="incident.status_changed")
    return inc


def assign(session: Session, *, tenant_id: int, incident_id: int, actor: str, now: datetime,
           assignee: str | None, team: str | None = None) -> Incident:
    inc = get_incident(session, tenant_id=tenant_id, incident_id=incident_id, for_update=True)
    if inc.status in ("merged", "deleted"):
        raise Conflict(f"cannot assign an incident that is {inc.status}", field="status")
    before = snapshot(inc)
    if inc.assignee == assignee and (team is None or inc.team == team):
        return inc
    inc.assignee = assignee
    if team is not None:
        inc.team = team
    who = "themselves" if assignee == actor else (assignee or "nobody")
    record(session, inc, now=now, actor=actor, kind="assigned",
           message=f"{actor} assigned {who}" + (f" (team {team})" if team else ""),
           before=before, topic="incident.assigned")
    return inc


def create_manual(session: Session, *, tenant_id: int, actor: str, now: datetime,
                  fields: dict[str, Any]) -> Incident:
    """An incident a person declares (type ``manual``), with no alert behind it."""
    number, = incident_store.numbers(session.connection(), tenant_id, 1)
    severity = int(Severity[str(fields.get("severity") or "high").upper()])
    inc = Incident(
        tenant_id=tenant_id, number=number, title=fields["title"],
        summary=fields.get("summary") or "", status="firing", severity=severity,
        priority=fields.get("priority"), category=fields.get("category"), type="manual",
        assignee=fields.get("assignee"), team=fields.get("team"),
        services=list(fields.get("services") or []), sources=["manual"], alert_count=0,
        open_alert_count=0, group_key=f"manual:{number}", resolve_on="never",
        created_at=now, started_at=now, last_seen_at=now, noise=False, pending=False,
        candidate=False, occurrences=0, parts_seen=[], related_ids=[],
        custom_fields=dict(fields.get("custom_fields") or {}))
    session.add(inc)
    session.flush()
    record(session, inc, now=now, actor=actor, kind="created",
           message=f"Declared by {actor}", before={}, topic="incident.created")
    alert_ids = list(fields.get("alert_ids") or [])
    if alert_ids:
        _adopt(session, inc, alert_ids, actor=actor, now=now)
    return inc


def _adopt(session: Session, inc: Incident, alert_ids: list[int], *, actor: str,
           now: datetime) -> None:
    """Move the chosen alerts into ``inc`` (from whatever incident held them)."""
    alerts = {a.id: a for a in session.scalars(select(Alert).where(
        Alert.id.in_(alert_ids), Alert.tenant_id == inc.tenant_id))}
    for i, aid in enumerate(alert_ids):
        if aid not in alerts:
            raise InvalidInput(f"no alert {aid}", field=f"alert_ids[{i}]")
    previous = {a.incident_id for a in alerts.values() if a.incident_id is not None}
    session.execute(sa_update(Alert).where(Alert.id.in_(list(alerts)))
                    .values(incident_id=inc.id))
    before = snapshot(inc)
    _recount(session, inc)
    inc.services = sorted({a.service for a in alerts.values() if a.service} | set(inc.services))
    inc.sources = sorted({a.source for a in alerts.values()} | set(inc.sources) - {"manual"})
    inc.started_at = min([inc.started_at, *(a.starts_at for a in alerts.values()
                                            if a.starts_at)])
    record(session, inc, now=now, actor=actor, kind="alert_added",
           message=f"{len(alerts)} alerts added by {actor}", before=before,
           topic="incident.updated")
    for other_id in sorted(previous - {inc.id}):
        other = session.get(Incident, other_id)
        if other is not None:
            before = snapshot(other)
            _recount(session, other)
            record(session, other, now=now, actor=actor, kind="alerts_moved",
                   message=f"Alerts moved to INC-{inc.number} by {actor}", before=before,
                   topic="incident.updated")


def link(session: Session, *, tenant_id: int, incident_id: int, other_id: int, actor: str,
         now: datetime, unlink: bool = False) -> Incident:
    """Mark two incidents as related (both sides), or no longer related."""
    if incident_id == other_id:
        raise InvalidInput("an incident is not related to itself", field="incident_id")
    first, second = sorted((incident_id, other_id))
    locked = {i: get_incident(session, tenant_id=tenant_id, incident_id=i, for_update=True)
              for i in (first, second)}
    inc, other = locked[incident_id], locked[other_id]
    for a, b in ((inc, other), (other, inc)):
        has = b.id in a.related_ids
        if has == (not unlink):
            continue
        before = snapshot(a)
        a.related_ids = ([x for x in a.related_ids if x != b.id] if unlink
                         else [*a.related_ids, b.id])
        verb = "Unlinked from" if unlink else "Linked to"
        record(session, a, now=now, actor=actor, kind="unlinked" if unlink else "linked",
               message=f"{verb} INC-{b.number} by {actor}", before=before,
               topic="incident.updated")
    return inc


def _recount(session: Session, inc: Incident) -> None:
    total, still_open = session.execute(
        select(func.count(), func.count().filter(Alert.status != "resolved"))
        .where(Alert.incident_id == inc.id)).one()
    inc.alert_count, inc.open_alert_count = int(total), int(still_open)


def split(session: Session, *, tenant_id: int, incident_id: int, alert_ids: list[int],
          actor: str, now: datetime, title: str | None = None) -> Incident:
    """Move some alerts of an incident into a new incident of their own."""
    source = get_incident(session, tenant_id=tenant_id, incident_id=incident_id,
                          for_update=True)
    if source.status in ("merged", "deleted"):
        raise Conflict(f"cannot split an incident that is {source.status}", field="status")
    wanted = sorted(set(alert_ids))
    alerts = list(session.scalars(select(Alert).where(Alert.id.in_(wanted),
                                                      Alert.tenant_id == tenant_id)))
    found = {a.id for a in alerts}
    for i, aid in enumerate(alert_ids):
        if aid not in found or next(a for a in alerts if a.id == aid).incident_id != source.id:
            raise InvalidInput(f"alert {aid} is not in INC-{source.number}",
                               field=f"alert_ids[{i}]")
    if len(found) >= source.alert_count:
        raise InvalidInput("a split must leave at least one alert behind", field="alert_ids")
    number, = incident_store.numbers(session.connection(), tenant_id, 1)
    first = min(alerts, key=lambda a: a.first_received_at)
    open_alerts = [a for a in alerts if a.status != "resolved"]
    new = Incident(
        tenant_id=tenant_id, number=number, title=title or first.summary or first.name,
        summary=first.description or first.summary, status="firing" if open_alerts
        else "resolved", severity=max(a.severity for a in alerts), priority=source.priority,
        category=source.category, type="manual", assignee=source.assignee, team=source.team,
        services=sorted({a.service for a in alerts if a.service}),
        sources=sorted({a.source for a in alerts}), alert_count=0, open_alert_count=0,
        group_key=f"split:{source.id}:{number}", resolve_on=source.resolve_on,
        created_at=now, started_at=min(a.starts_at or now for a in alerts),
        last_seen_at=max(a.last_received_at for a in alerts),
        resolved_at=None if open_alerts else now, noise=False, pending=False,
        candidate=False, occurrences=len(alerts), parts_seen=[], custom_fields={},
        related_ids=[source.id])
    session.add(new)
    session.flush()
    source.related_ids = [*source.related_ids, new.id]
    session.execute(sa_update(Alert).where(Alert.id.in_(wanted)).values(incident_id=new.id))
    before = snapshot(source)
    _recount(session, source)
    _recount(session, new)
    record(session, new, now=now, actor=actor, kind="created",
           message=f"Split from INC-{source.number} by {actor} ({len(wanted)} alerts)",
           before={}, topic="incident.created")
    record(session, source, now=now, actor=actor, kind="split",
           message=f"{len(wanted)} alerts split into INC-{new.number} by {actor}",
           before=before, topic="incident.updated")
    if source.status in OPEN_STATUSES and source.open_alert_count == 0 \
            and source.resolve_on == "all" and source.alert_count:
        act(session, tenant_id=tenant_id, incident_id=source.id, action="resolve",
            actor="system", now=now, note="its remaining alerts are resolved")
    return new


BULK_ACTIONS = ("acknowledge", "investigate", "resolve", "close", "reopen", "confirm",
                "dismiss", "assign", "mark_noise")


def bulk(session: Session, *, tenant_id: int, ids: list[int], action: str, actor: str,
         now: datetime, note: str | None = None, assignee: str | None = None,
         resolve_alerts: bool = True) -> list[Incident]:
    """One action on many incidents in one transaction: all of them or none (the first
    that cannot take it is named, and nothing is applied). ``resolve_alerts``: see
    ``service.act``."""
    out = []
    for i, incident_id in enumerate(ids):
        try:
            if action == "confirm":
                out.append(confirm(session, tenant_id=tenant_id, incident_id=incident_id,
                                   actor=actor, now=now))
            elif action == "dismiss":
                out.append(dismiss(session, tenant_id=tenant_id, incident_id=incident_id,
                                   actor=actor, now=now, note=note))
            elif action == "assign":
                out.append(assign(session, tenant_id=tenant_id, incident_id=incident_id,
                                  actor=actor, now=now, assignee=assignee or actor))
            elif action == "mark_noise":
                out.append(update(session, tenant_id=tenant_id, incident_id=incident_id,
                                  actor=actor, now=now, changes={"noise": True}))
            else:
                out.append(act(session, tenant_id=tenant_id, incident_id=incident_id,
                               action=action, actor=actor, now=now, note=note,
                               resolve_alerts=resolve_alerts))
        except (Conflict, InvalidInput) as exc:
            raise type(exc)(f"ids[{i}] (incident {incident_id}): {exc.message}",
                            field=f"ids[{i}]") from None
        except NotFound:
            raise InvalidInput(f"ids[{i}]: no incident {incident_id}",
                               field=f"ids[{i}]") from None
    return out
