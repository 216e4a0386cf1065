from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import admin, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.correlation import service
from vigil.correlation.engine import RuleSet, compile_rule, route
from vigil.correlation.schemas import RuleCreate, RuleRead, RuleTestRequest, RuleUpdate
from vigil.errors import InvalidInput
from vigil.http_bodies import JsonObjectRoute
from vigil.ids import IdPath
from vigil.pipeline.dedup import Submission
from vigil.pipeline.event import Action, AlertEvent, parse_severity

router = APIRouter(prefix="/api/v1/correlation-rules", tags=["correlation rules"],
                   route_class=JsonObjectRoute)


@router.get("", response_model=list[RuleRead])
async def list_rules(who: Principal = Depends(viewer),
                     ctx: Context = Depends(get_context)) -> list[RuleRead]:
    def run() -> list[RuleRead]:
        with ctx.db.read() as s:
            return [service.read(r) for r in service.list_rules(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post("", response_model=RuleRead, status_code=201)
async def create_rule(body: RuleCreate, who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> RuleRead:
    def run() -> RuleRead:
        with ctx.db.write() as s:
            out = service.read(service.create_rule(s, tenant_id=who.tenant_id, body=body,
                                                   now=ctx.clock.now()))
        ctx.runner.rules.invalidate()
        return out
    return await run_in_threadpool(run)


@router.post("/test")
async def test_rules(body: RuleTestRequest, who: Principal = Depends(viewer),
                     ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """Which rule would take this alert, and into which group (nothing is stored)."""
    alert = body.alert
    labels = alert.get("labels") or {}
    annotations = alert.get("annotations") or {}
    if not isinstance(labels, dict) or not isinstance(annotations, dict):
        raise InvalidInput("alert.labels and alert.annotations must be objects",
                           field="alert.labels")
    name = str(alert.get("name") or labels.get("alertname") or "alert")
    event = AlertEvent(
        action=Action.TRIGGER, source=str(alert.get("source") or "generic"), name=name,
        summary=str(alert.get("summary") or ""),
        severity=parse_severity(alert.get("severity")),
        service=str(alert["service"]) if alert.get("service") else None,
        environment=str(alert["environment"]) if alert.get("environment") else None,
        labels={str(k): str(v) for k, v in labels.items()},
        annotations={str(k): str(v) for k, v in annotations.items()})
    integration = alert.get("integration")
    sub = Submission(who.tenant_id, int(integration) if isinstance(integration, int) else None,
                     "", event)

    def run() -> dict[str, Any]:
        with ctx.db.read() as s:
            rules = [compile_rule(service.as_dict(r), id=r.id, tenant_id=r.tenant_id)
                     for r in service.list_rules(s, tenant_id=who.tenant_id) if r.enabled]
        found = route({who.tenant_id: RuleSet(rules)}, sub)
        assert found is not None
        rule = found.rule
        return {"rule": {"id": rule.id or None, "name": rule.name}, "group_key": found.key,
                "title": found.title(event.summary or event.name),
                "gated": rule.gated, "require_approval": rule.require_approval}
    return await run_in_threadpool(run)


@router.get("/{rule_id}", response_model=RuleRead)
async def get_rule(rule_id: IdPath, who: Principal = Depends(viewer),
                   ctx: Context = Depends(get_context)) -> RuleRead:
    def run() -> RuleRead:
        with ctx.db.read() as s:
            return service.read(service.get_rule(s, tenant_id=who.tenant_id, rule_id=rule_id))
    return await run_in_threadpool(run)


@router.patch("/{rule_id}", response_model=RuleRead)
async def update_rule(rule_id: IdPath, body: RuleUpdate, who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> RuleRead:
    def run() -> RuleRead:
        with ctx.db.write() as s:
            rule = service.update_rule(s, tenant_id=who.tenant_id, rule_id=rule_id, body=body,
                                       now=ctx.clock.now())
            s.flush()
            out = service.read(rule)
        ctx.runner.rules.invalidate()
        return out
    return await run_in_threadpool(run)


@router.delete("/{rule_id}", status_code=204)
async def delete_rule(rule_id: IdPath, who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            service.delete_rule(s, tenant_id=who.tenant_id, rule_id=rule_id)
        ctx.runner.rules.invalidate()
    await run_in_threadpool(run)
    return Response(status_code=204)
