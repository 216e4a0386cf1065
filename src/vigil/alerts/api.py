from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from vigil.alerts import service
from vigil.alerts.schemas import AlertAction, AlertDetail, AlertEventRead, AlertPage, AlertRead
from vigil.auth.deps import responder, viewer
from vigil.auth.service import Principal
from vigil.clock import ensure_utc
from vigil.context import Context, get_context
from vigil.core.event import Action, AlertEvent
from vigil.core.submission import Submission
from vigil.errors import Conflict
from vigil.http.bodies import JsonObjectRoute
from vigil.http.ids import BigIdPath, IdQuery

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], route_class=JsonObjectRoute)


@router.get("", response_model=AlertPage)
async def list_alerts(
    status: list[str] | None = Query(None, description="firing, acknowledged, resolved"),
    severity: list[str] | None = Query(None, description="critical, high, warning, info, low"),
    service_: list[str] | None = Query(None, alias="service"),
    label: list[str] | None = Query(None, description="key=value, repeatable"),
    q: str | None = Query(None, description="text in name or summary"),
    since: datetime | None = Query(None, description="last received at or after"),
    until: datetime | None = Query(None, description="first received before"),
    integration_id: IdQuery = None,
    sort: str = Query("-last_received_at"),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = None,
    who: Principal = Depends(viewer),
    ctx: Context = Depends(get_context),
) -> AlertPage:
    filters = service.AlertFilter(
        status=status, severity=severity, service=service_,
        labels=service.parse_label_filters(label or []), text=q,
        since=ensure_utc(since) if since else None, until=ensure_utc(until) if until else None,
        integration_id=integration_id,
    )

    def run() -> AlertPage:
        with ctx.db.read() as s:
            rows, nxt = service.list_alerts(s, tenant_id=who.tenant_id, filters=filters,
                                            sort=sort, limit=limit, cursor=cursor)
            return AlertPage(items=[AlertRead.model_validate(r) for r in rows], next_cursor=nxt)
    return await run_in_threadpool(run)


def _detail(ctx: Context, tenant_id: int, alert_id: int) -> AlertDetail:
    with ctx.db.read() as s:
        alert = service.get_alert(s, tenant_id=tenant_id, alert_id=alert_id)
        events = service.alert_events(s, alert_id=alert_id)
        # The payload is kept with each event; the alert shows its latest trigger's.
        raw = next((e.payload for e in sorted(events, key=lambda e: e.id, reverse=True)
                    if e.action == "trigger" and e.payload), alert.raw)
        return AlertDetail(
            **AlertRead.model_validate(alert).model_dump(), raw=raw,
            events=[AlertEventRead.model_validate(e) for e in events],
        )


@router.get("/{alert_id}", response_model=AlertDetail)
async def get_alert(
    alert_id: BigIdPath, who: Principal = Depends(viewer), ctx: Context = Depends(get_context)
) -> AlertDetail:
    return await run_in_threadpool(_detail, ctx, who.tenant_id, alert_id)


async def _act(ctx: Context, who: Principal, alert_id: int, action: Action,
               body: AlertAction | None) -> AlertDetail:
    def load() -> tuple[int | None, str, str, str]:
        with ctx.db.read() as s:
            a = service.get_alert(s, tenant_id=who.tenant_id, alert_id=alert_id)
            return a.integration_id, a.fingerprint, a.status, a.name

    integration_id, fp, status, name = await run_in_threadpool(load)
    if status == "resolved":
        raise Conflict(f"alert {alert_id} is resolved; it can no longer be {action.value}d",
                       field="status")
    raw = {"action": action.value, "via": "api", "note": body.note if body else None}
    event = AlertEvent(action=action, source="api", name=name, actor=who.actor, raw=raw)
    await ctx.runner.submit([Submission(who.tenant_id, integration_id, fp, event)])
    return await run_in_threadpool(_detail, ctx, who.tenant_id, alert_id)


@router.post("/{alert_id}/acknowledge", response_model=AlertDetail)
async def acknowledge(
    alert_id: BigIdPath, body: AlertAction | None = None, who: Principal = Depends(responder),
    ctx: Context = Depends(get_context),
) -> AlertDetail:
    return await _act(ctx, who, alert_id, Action.ACKNOWLEDGE, body)


@router.post("/{alert_id}/resolve", response_model=AlertDetail)
async def resolve(
    alert_id: BigIdPath, body: AlertAction | None = None, who: Principal = Depends(responder),
    ctx: Context = Depends(get_context),
) -> AlertDetail:
    return await _act(ctx, who, alert_id, Action.RESOLVE, body)
