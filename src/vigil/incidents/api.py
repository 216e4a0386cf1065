from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from vigil.alerts.models import Alert
from vigil.alerts.schemas import AlertRead
from vigil.auth.deps import responder, viewer
from vigil.auth.service import Principal
from vigil.clock import ensure_utc
from vigil.context import Context, get_context
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import parse_severity
from vigil.core.submission import Submission
from vigil.errors import InvalidInput
from vigil.http.bodies import JsonObjectRoute
from vigil.http.ids import BigIdPath
from vigil.incidents import analytics, service
from vigil.incidents import changes as manage
from vigil.incidents.lifecycle import ACTIONS
from vigil.incidents.schemas import (
    IncidentAction,
    IncidentAssign,
    IncidentBulk,
    IncidentComment,
    IncidentCreate,
    IncidentDetail,
    IncidentLink,
    IncidentMerge,
    IncidentPage,
    IncidentRead,
    IncidentResolve,
    IncidentSimulate,
    IncidentSplit,
    IncidentUpdate,
    TimelineRead,
)

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"],
                   route_class=JsonObjectRoute)


@router.get("", response_model=IncidentPage)
async def list_incidents(
    status: list[str] | None = Query(None),
    severity: list[str] | None = Query(None),
    priority: list[str] | None = Query(None),
    service_: str | None = Query(None, alias="service"),
    team: str | None = None,
    assignee: str | None = None,
    q: str | None = Query(None, description="text in title or summary"),
    since: datetime | None = Query(None, description="last seen at or after"),
    until: datetime | None = Query(None, description="created before"),
    candidate: bool = Query(False, description="list candidates awaiting confirmation"),
    type_: str | None = Query(None, alias="type"),
    category: str | None = None,
    sort: str = "-created_at",
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = None,
    who: Principal = Depends(viewer),
    ctx: Context = Depends(get_context),
) -> IncidentPage:
    filters = service.IncidentFilter(
        status=status, severity=severity, priority=priority, service=service_, team=team,
        assignee=assignee, text=q, since=ensure_utc(since) if since else None,
        until=ensure_utc(until) if until else None, candidate=candidate, type=type_,
        category=category)

    def run() -> IncidentPage:
        with ctx.db.read() as s:
            rows, nxt = service.list_incidents(s, tenant_id=who.tenant_id, filters=filters,
                                               sort=sort, limit=limit, cursor=cursor)
            return IncidentPage(items=[IncidentRead.model_validate(r) for r in rows],
                                next_cursor=nxt)
    return await run_in_threadpool(run)


@router.get("/analytics")
async def incident_analytics(since: datetime | None = Query(None, description="default: 7 "
                                                            "days ago"),
                             until: datetime | None = Query(None, description="default: now"),
                             who: Principal = Depends(viewer),
                             ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """MTTA, MTTR (overall and per severity) and noise for incidents created in a period."""
    end = ensure_utc(until) if until else ctx.clock.now()
    start = ensure_utc(since) if since else end - timedelta(days=7)

    def run() -> dict[str, Any]:
        with ctx.db.read() as s:
            return analytics.summary(s, tenant_id=who.tenant_id, since=start, until=end)
    return await run_in_threadpool(run)


@router.get("/counts")
async def counts(who: Principal = Depends(viewer),
                 ctx: Context = Depends(get_context)) -> dict[str, int]:
    def run() -> dict[str, int]:
        with ctx.db.read() as s:
            return service.counts_by_status(s, tenant_id=who.tenant_id)
    return await run_in_threadpool(run)


def _detail(ctx: Context, tenant_id: int, incident_id: int) -> IncidentDetail:
    with ctx.db.read() as s:
        inc = service.get_incident(s, tenant_id=tenant_id, incident_id=incident_id)
        return IncidentDetail(
            **IncidentRead.model_validate(inc).model_dump(),
            alerts=[AlertRead.model_validate(a)
                    for a in service.incident_alerts(s, incident_id=incident_id)],
            timeline=[TimelineRead.model_validate(t)
                      for t in service.timeline(s, incident_id=incident_id)],
        )


_SCENARIOS = {
    "latency": ("HighLatency", "checkout", "critical", "p99 latency is {ms} ms (SLO 500 ms)"),
    "errors": ("HighErrorRate", "payments", "high", "5xx rate is {pct}%"),
    "database": ("PostgresReplicationLag", "postgres", "warning", "replica is {s} s behind"),
}


@router.post("/simulate", response_model=IncidentDetail, status_code=201)
async def simulate(body: IncidentSimulate | None = None, who: Principal = Depends(responder),
                   ctx: Context = Depends(get_context)) -> IncidentDetail:
    """Create a realistic test incident through the real pipeline (labelled
    ``vigil_simulation=true``), to try Vigil out or to rehearse."""
    spec = body or IncidentSimulate()
    name, svc, sev, text = _SCENARIOS[spec.scenario]
    run_id = secrets.token_hex(4)
    events = [
        AlertEvent(action=Action.TRIGGER, source="simulate", name=name,
                   summary=text.format(ms=900 + 300 * i, pct=5 + 3 * i, s=30 + 20 * i),
                   severity=parse_severity(sev), service=svc, environment="simulation",
                   labels={"alertname": name, "service": svc, "instance": f"{svc}-{i}",
                           "vigil_simulation": "true", "run": run_id},
                   raw={"simulated": True, "scenario": spec.scenario}, actor=who.actor)
        for i in range(spec.alerts)
    ]
    subs = [Submission(who.tenant_id, None, fingerprint(e, integration_id=0), e) for e in events]
    results = await ctx.runner.submit(subs)

    def incident_of() -> int:
        with ctx.db.read() as s:
            alert = s.get(Alert, results[0].alert_id)
            assert alert is not None and alert.incident_id is not None
            return alert.incident_id

    incident_id = await run_in_threadpool(incident_of)
    return await run_in_threadpool(_detail, ctx, who.tenant_id, incident_id)


@router.post("/{incident_id}/merge", response_model=IncidentDetail)
async def merge(incident_id: BigIdPath, body: IncidentMerge, who: Principal = Depends(responder),
                ctx: Context = Depends(get_context)) -> IncidentDetail:
    """Merge this incident into another: its alerts move there; it becomes ``merged``."""
    def run() -> IncidentDetail:
        with ctx.db.write() as s:
            service.merge(s, tenant_id=who.tenant_id, source_id=incident_id,
                          target_id=body.into, actor=who.actor, now=ctx.clock.now())
        return _detail(ctx, who.tenant_id, body.into)
    return await run_in_threadpool(run)


@router.get("/{incident_id}", response_model=IncidentDetail)
async def get_incident(incident_id: BigIdPath, who: Principal = Depends(viewer),
                       ctx: Context = Depends(get_context)) -> IncidentDetail:
    return await run_in_threadpool(_detail, ctx, who.tenant_id, incident_id)


@router.patch("/{incident_id}", response_model=IncidentDetail)
async def update_incident(incident_id: BigIdPath, body: IncidentUpdate,
                          who: Principal = Depends(responder),
                          ctx: Context = Depends(get_context)) -> IncidentDetail:
    def run() -> IncidentDetail:
        with ctx.db.write() as s:
            service.update(s, tenant_id=who.tenant_id, incident_id=incident_id,
                           actor=who.actor, now=ctx.clock.now(),
                           changes=body.model_dump(exclude_unset=True))
        return _detail(ctx, who.tenant_id, incident_id)
    return await run_in_threadpool(run)


@router.post("/{incident_id}/comments", response_model=TimelineRead, status_code=201)
async def add_comment(incident_id: BigIdPath, body: IncidentComment,
                      who: Principal = Depends(responder),
                      ctx: Context = Depends(get_context)) -> TimelineRead:
    def run() -> TimelineRead:
        with ctx.db.write() as s:
            event = service.comment(s, tenant_id=who.tenant_id, incident_id=incident_id,
                                    actor=who.actor, now=ctx.clock.now(), body=body.text)
            return TimelineRead.model_validate(event)
    return await run_in_threadpool(run)


def _act(ctx: Context, who: Principal, incident_id: int, action: str, note: str | None,
         resolve_alerts: bool = True) -> IncidentDetail:
    with ctx.db.write() as s:
        service.act(s, tenant_id=who.tenant_id, incident_id=incident_id, action=action,
                    actor=who.actor, now=ctx.clock.now(), note=note,
                    resolve_alerts=resolve_alerts)
    return _detail(ctx, who.tenant_id, incident_id)


def _action_route(action: str) -> None:
    async def endpoint(incident_id: BigIdPath, body: IncidentAction | None = None,
                       who: Principal = Depends(responder),
                       ctx: Context = Depends(get_context)) -> IncidentDetail:
        return await run_in_threadpool(_act, ctx, who, incident_id, action,
                                       body.note if body else None)

    endpoint.__name__ = f"{action}_incident"
    router.post(f"/{{incident_id}}/{action}", response_model=IncidentDetail,
                summary=f"{action.capitalize()} an incident")(endpoint)


for _action in ACTIONS:
    if _action != "resolve":
        _action_route(_action)


@router.post("/{incident_id}/resolve", response_model=IncidentDetail,
             summary="Resolve an incident")
async def resolve_incident(
    incident_id: BigIdPath, body: IncidentResolve | None = None,
    resolve_alerts: bool | None = Query(None, description="resolve its open alerts too "
                                        "(default true; or in the body)"),
    who: Principal = Depends(responder), ctx: Context = Depends(get_context),
) -> IncidentDetail:
    """Resolve an incident and, as PagerDuty does, its open alerts (``resolve_alerts``
    false leaves them open: one that fires again then reopens the incident or opens a new
    one)."""
    in_body = body.resolve_alerts if body is not None else None
    if in_body is not None and resolve_alerts is not None and in_body != resolve_alerts:
        raise InvalidInput("resolve_alerts: the query and the body disagree",
                           field="resolve_alerts")
    chosen = next((v for v in (in_body, resolve_alerts) if v is not None), True)
    return await run_in_threadpool(_act, ctx, who, incident_id, "resolve",
                                   body.note if body else None, chosen)


@router.post("", response_model=IncidentDetail, status_code=201)
async def create_incident(body: IncidentCreate, who: Principal = Depends(responder),
                          ctx: Context = Depends(get_context)) -> IncidentDetail:
    """Declare an incident by hand (type ``manual``)."""
    def run() -> IncidentDetail:
        with ctx.db.write() as s:
            inc = manage.create_manual(s, tenant_id=who.tenant_id, actor=who.actor,
                                       now=ctx.clock.now(), fields=body.model_dump())
            incident_id = inc.id
        return _detail(ctx, who.tenant_id, incident_id)
    return await run_in_threadpool(run)


@router.post("/bulk", response_model=list[IncidentRead])
async def bulk_action(body: IncidentBulk, who: Principal = Depends(responder),
                      ctx: Context = Depends(get_context)) -> list[IncidentRead]:
    """One action on many incidents: all or none."""
    def run() -> list[IncidentRead]:
        with ctx.db.write() as s:
            done = manage.bulk(s, tenant_id=who.tenant_id, ids=body.ids, action=body.action,
                               actor=who.actor, now=ctx.clock.now(), note=body.note,
                               assignee=body.assignee, resolve_alerts=body.resolve_alerts)
            s.flush()
            return [IncidentRead.model_validate(i) for i in done]
    return await run_in_threadpool(run)


@router.post("/{incident_id}/split", response_model=IncidentDetail, status_code=201)
async def split(incident_id: BigIdPath, body: IncidentSplit, who: Principal = Depends(responder),
                ctx: Context = Depends(get_context)) -> IncidentDetail:
    """Move some of this incident's alerts into a new incident; answers the new one."""
    def run() -> IncidentDetail:
        with ctx.db.write() as s:
            new = manage.split(s, tenant_id=who.tenant_id, incident_id=incident_id,
                               alert_ids=body.alert_ids, actor=who.actor,
                               now=ctx.clock.now(), title=body.title)
            new_id = new.id
        return _detail(ctx, who.tenant_id, new_id)
    return await run_in_threadpool(run)


@router.post("/{incident_id}/assign", response_model=IncidentDetail)
async def assign(incident_id: BigIdPath, body: IncidentAssign | None = None,
                 who: Principal = Depends(responder),
                 ctx: Context = Depends(get_context)) -> IncidentDetail:
    """Assign to someone, or to yourself when no assignee is given."""
    spec = body or IncidentAssign()

    def run() -> IncidentDetail:
        with ctx.db.write() as s:
            manage.assign(s, tenant_id=who.tenant_id, incident_id=incident_id,
                          actor=who.actor, now=ctx.clock.now(),
                          assignee=spec.assignee or who.actor, team=spec.team)
        return _detail(ctx, who.tenant_id, incident_id)
    return await run_in_threadpool(run)


@router.post("/{incident_id}/confirm", response_model=IncidentDetail)
async def confirm(incident_id: BigIdPath, who: Principal = Depends(responder),
                  ctx: Context = Depends(get_context)) -> IncidentDetail:
    """Confirm a candidate incident (made by a rule with ``require_approval``)."""
    def run() -> IncidentDetail:
        with ctx.db.write() as s:
            manage.confirm(s, tenant_id=who.tenant_id, incident_id=incident_id,
                           actor=who.actor, now=ctx.clock.now())
        return _detail(ctx, who.tenant_id, incident_id)
    return await run_in_threadpool(run)


@router.post("/{incident_id}/dismiss", response_model=IncidentDetail)
async def dismiss(incident_id: BigIdPath, body: IncidentAction | None = None,
                  who: Principal = Depends(responder),
                  ctx: Context = Depends(get_context)) -> IncidentDetail:
    """Dismiss a candidate incident."""
    def run() -> IncidentDetail:
        with ctx.db.write() as s:
            manage.dismiss(s, tenant_id=who.tenant_id, incident_id=incident_id,
                           actor=who.actor, now=ctx.clock.now(),
                           note=body.note if body else None)
        return _detail(ctx, who.tenant_id, incident_id)
    return await run_in_threadpool(run)


@router.post("/{incident_id}/links", response_model=IncidentDetail)
async def link(incident_id: BigIdPath, body: IncidentLink, who: Principal = Depends(responder),
               ctx: Context = Depends(get_context)) -> IncidentDetail:
    """Mark another incident as related to this one (recorded on both timelines)."""
    def run() -> IncidentDetail:
        with ctx.db.write() as s:
            manage.link(s, tenant_id=who.tenant_id, incident_id=incident_id,
                        other_id=body.incident_id, actor=who.actor, now=ctx.clock.now())
        return _detail(ctx, who.tenant_id, incident_id)
    return await run_in_threadpool(run)


@router.delete("/{incident_id}/links/{other_id}", response_model=IncidentDetail)
async def unlink(incident_id: BigIdPath, other_id: BigIdPath, who: Principal = Depends(responder),
                 ctx: Context = Depends(get_context)) -> IncidentDetail:
    def run() -> IncidentDetail:
        with ctx.db.write() as s:
            manage.link(s, tenant_id=who.tenant_id, incident_id=incident_id,
                        other_id=other_id, actor=who.actor, now=ctx.clock.now(), unlink=True)
        return _detail(ctx, who.tenant_id, incident_id)
    return await run_in_threadpool(run)
