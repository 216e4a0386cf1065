from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import admin, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.core.event import Action, AlertEvent
from vigil.core.severity import parse_severity
from vigil.core.submission import Submission
from vigil.correlation import service
from vigil.correlation.routing import RuleSet, compile_rule, route
from vigil.correlation.schemas import RuleCreate, RuleRead, RuleTestRequest, RuleUpdate
from vigil.errors import InvalidInput
from vigil.http.bodies import JsonObjectRoute
from vigil.http.ids import IdPath
from vigil.http.ratelimit import for_app
from vigil.integrations.base import check_event

router = APIRouter(prefix="/api/v1/correlation-rules", tags=["correlation rules"],
                   route_class=JsonObjectRoute)

#: ``/test`` runs every rule's condition and title: per caller, a burst of this many ...
TEST_BURST = 10
#: ... then one request every two seconds.
TEST_PER_SECOND = 0.5


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
            return service.read(service.create_rule(s, tenant_id=who.tenant_id, body=body,
                                                    now=ctx.clock.now()))
    return await run_in_threadpool(run)


@router.post("/test", responses={429: {"description": "too many tests by this caller "
                                                     "(Retry-After)"}})
async def test_rules(body: RuleTestRequest, request: Request,
                     who: Principal = Depends(viewer),
                     ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """Which rule would take this alert, and into which group (nothing is stored).
    Rate-limited per caller (429 with Retry-After); the sample alert is held to the
    ingest limits."""
    caller = ("user", who.user_id) if who.user_id is not None else ("key", who.key_id)
    for_app(request.app.state, "correlation-rules/test", capacity=TEST_BURST,
            per_second=TEST_PER_SECOND).check((who.tenant_id, *caller), ctx.clock.now(),
                                              "rule test")
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
    check_event(event, ctx.settings, "alert", name="name" if alert.get("name") else None,
                summary="summary")
    integration = alert.get("integration")
    sub = Submission(who.tenant_id, int(integration) if isinstance(integration, int) else None,
                     "", event)

    def run() -> dict[str, Any]:
        with ctx.db.read() as s:
            rules = [_compiled(r) for r in service.list_rules(s, tenant_id=who.tenant_id)
                     if r.enabled]
        found = route({who.tenant_id: RuleSet(rules)}, sub)
        assert found is not None
        rule = found.rule
        return {"rule": {"id": rule.id or None, "name": rule.name}, "group_key": found.key,
                "title": found.title(event.summary or event.name),
                "gated": rule.gated, "require_approval": rule.require_approval}
    return await run_in_threadpool(run)


def _compiled(rule: Any) -> Any:
    """A stored rule, compiled. One saved before today's bounds that no longer passes them
    is skipped when alerts arrive; here it is a 422 naming it, so it gets fixed."""
    try:
        return compile_rule(service.as_dict(rule), id=rule.id, tenant_id=rule.tenant_id)
    except InvalidInput as exc:
        raise InvalidInput(f"rule {rule.name!r} (id {rule.id}): {exc.message}",
                           field=exc.field) from None


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
            return service.read(rule)
    return await run_in_threadpool(run)


@router.delete("/{rule_id}", status_code=204)
async def delete_rule(rule_id: IdPath, who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            service.delete_rule(s, tenant_id=who.tenant_id, rule_id=rule_id)
    await run_in_threadpool(run)
    return Response(status_code=204)
