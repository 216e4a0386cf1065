"""Escalation policies (CRUD), an incident's escalation (view, escalate now, reassign to
a policy, a person or a schedule) and direct paging of a person, team or schedule without
an alert. The view (``escalation_view``) is the same as the incident page shows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import admin, responder, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.errors import Conflict, InvalidInput
from vigil.http.bodies import JsonObjectRoute
from vigil.http.ids import BigIdPath, IdPath
from vigil.incidents import changes as manage
from vigil.incidents.service import get_incident
from vigil.oncall.escalation import engine
from vigil.oncall.escalation import policy as esc
from vigil.oncall.escalation import service as svc
from vigil.oncall.escalation import view as escalation_view
from vigil.oncall.models import Escalation

router = APIRouter(tags=["escalation"], route_class=JsonObjectRoute)
_POLICIES = "/api/v1/escalation-policies"
_EXAMPLE = {"name": "critical-firing",
            "conditions": {"severities": ["critical"], "statuses": ["firing"]},
            "steps": [{"delay": 0, "targets": [{"schedule": "primary"}]},
                      {"delay_minutes": 5, "targets": [{"team": "senior-engineers"},
                                                       {"slack_channel": "#incidents"}]}]}


@router.get(_POLICIES)
async def list_policies(who: Principal = Depends(viewer),
                        ctx: Context = Depends(get_context)) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        with ctx.db.read() as s:
            return [svc.read(r) for r in svc.list_rows(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post(_POLICIES, status_code=201)
async def create_policy(body: dict[str, Any] = Body(examples=[_EXAMPLE]),
                        who: Principal = Depends(admin),
                        ctx: Context = Depends(get_context)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            row, _ = svc.upsert(s, tenant_id=who.tenant_id, data=body, now=ctx.clock.now(),
                                create_only=True)
            return svc.read(row)
    return await run_in_threadpool(run)


@router.get(_POLICIES + "/{policy_id}")
async def get_policy(policy_id: IdPath, who: Principal = Depends(viewer),
                     ctx: Context = Depends(get_context)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with ctx.db.read() as s:
            return svc.read(svc.get(s, tenant_id=who.tenant_id, policy_id=policy_id))
    return await run_in_threadpool(run)


@router.put(_POLICIES + "/{policy_id}")
async def replace_policy(policy_id: IdPath, body: dict[str, Any] = Body(),
                         who: Principal = Depends(admin),
                         ctx: Context = Depends(get_context)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            row, _ = svc.upsert(s, tenant_id=who.tenant_id, data=body, now=ctx.clock.now(),
                                policy_id=policy_id)
            s.flush()
            return svc.read(row)
    return await run_in_threadpool(run)


@router.delete(_POLICIES + "/{policy_id}", status_code=204)
async def delete_policy(policy_id: IdPath, who: Principal = Depends(admin),
                        ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            svc.delete(s, tenant_id=who.tenant_id, policy_id=policy_id)
    await run_in_threadpool(run)
    return Response(status_code=204)


def _row(ctx: Context, who: Principal, incident_id: int) -> dict[str, Any]:
    with ctx.db.read() as s:
        inc = get_incident(s, tenant_id=who.tenant_id, incident_id=incident_id)
        return escalation_view.load(s, inc)


@router.get("/api/v1/incidents/{incident_id}/escalation")
async def incident_escalation(incident_id: BigIdPath, who: Principal = Depends(viewer),
                              ctx: Context = Depends(get_context)) -> dict[str, Any]:
    return await run_in_threadpool(_row, ctx, who, incident_id)


@router.post("/api/v1/incidents/{incident_id}/escalate")
async def escalate_now(incident_id: BigIdPath, who: Principal = Depends(responder),
                       ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """Jump to the next step now (its people are notified at once)."""
    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            inc = get_incident(s, tenant_id=who.tenant_id, incident_id=incident_id)
            row = s.scalars(select(Escalation).where(Escalation.incident_id == inc.id)
                            .with_for_update()).first()
            if row is None:
                raise Conflict(f"INC-{inc.number} has no escalation; reassign it to a "
                               "policy first", field="escalation")
            policy = engine._policy_of(engine.Lookups(s, inc.tenant_id), row)
            if policy is None:
                raise Conflict(f"escalation policy {row.policy!r} is gone", field="policy")
            state = esc.escalate_now(policy, esc.EscalationState.from_dict(row.state), now)
            row.state, row.status = state.to_dict(), state.status.value
            row.next_at, row.updated_at = esc.next_due(state), now
            engine._note(s, inc, now, who.actor, "escalated", f"Escalated by {who.actor}")
            s.flush()
            engine.fire(s, now, engine.PassResult())
        return _row(ctx, who, incident_id)
    return await run_in_threadpool(run)


class Reassign(BaseModel):
    """Exactly one of: another escalation policy, a person, or a schedule."""

    model_config = ConfigDict(extra="forbid")

    policy: str | None = Field(default=None, min_length=1, max_length=200)
    user: str | None = Field(default=None, min_length=1, max_length=200)
    schedule: str | None = Field(default=None, min_length=1, max_length=200)


@router.post("/api/v1/incidents/{incident_id}/reassign")
async def reassign(incident_id: BigIdPath, body: Reassign, who: Principal = Depends(responder),
                   ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """Restart the incident's escalation from the first step of ``policy``, or page
    ``user`` or ``schedule`` now (a one-off policy of one step)."""
    given = [(k, v) for k, v in body.model_dump().items() if v is not None]
    if len(given) != 1:
        raise InvalidInput("give exactly one of policy, user, schedule",
                           field=given[1][0] if given else "policy")
    kind, name = given[0]

    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            if kind == "policy":
                if svc.by_name(s, tenant_id=who.tenant_id, name=name) is None:
                    raise InvalidInput(f"no escalation policy {name!r}", field="policy")
            else:
                svc.check_target(s, tenant_id=who.tenant_id, target={kind: name}, field=kind)
            inc = get_incident(s, tenant_id=who.tenant_id, incident_id=incident_id,
                               for_update=True)
            if inc.status not in ("firing", "acknowledged", "investigating"):
                raise Conflict(f"cannot reassign an incident that is {inc.status}",
                               field="status")
            old = s.scalars(select(Escalation).where(Escalation.incident_id == inc.id)
                            .with_for_update()).first()
            before = esc.EscalationState.from_dict(old.state) if old is not None else None
            if kind == "policy":
                inc.escalation_policy = name
                row = engine.start(s, inc, now, policy_name=name)
            else:
                inline = {"name": f"INC-{inc.number} to {kind} {name}",
                          "steps": [{"delay": 0, "targets": [{kind: name}]}]}
                row = engine.start(s, inc, now, inline=inline)
            if row is None:  # the policy's conditions do not hold: change nothing
                raise Conflict(f"escalation policy {name!r} does not apply to this incident "
                               "(see its conditions)", field=kind)
            _after(row, before)
            s.flush()
            engine.fire(s, now, engine.PassResult())
        return _row(ctx, who, incident_id)
    return await run_in_threadpool(run)


def _after(row: Escalation, before: esc.EscalationState | None) -> None:
    """A restart by another policy is a new epoch of the same escalation: its pages get
    new keys, so a person the old escalation paged at the same step is paged again rather
    than taken for a repeat of the old page."""
    if before is None:
        return
    state = esc.EscalationState.from_dict(row.state)
    if state.epoch <= before.epoch:
        state = replace(state, epoch=before.epoch + 1, fired=(*before.fired, *state.fired))
        row.state = state.to_dict()


class PageTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str | None = None
    team: str | None = None
    schedule: str | None = None


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=512)
    message: str = Field(default="", max_length=20000)
    targets: list[PageTarget] = Field(min_length=1, max_length=20)
    urgency: Literal["high", "low"] = "high"
    severity: Literal["critical", "high", "warning", "info", "low"] = "high"


@router.post("/api/v1/page", status_code=201)
async def page(body: Page, who: Principal = Depends(responder),
               ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """Page people now, without an alert: opens a manual incident that escalates to them."""
    targets = []
    for i, t in enumerate(body.targets):
        given = {k: v for k, v in t.model_dump().items() if v}
        if len(given) != 1:
            raise InvalidInput("give exactly one of user, team, schedule",
                               field=f"targets[{i}]")
        targets.append(given)

    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            for i, t in enumerate(targets):
                svc.check_target(s, tenant_id=who.tenant_id, target=t, field=f"targets[{i}]")
            inc = manage.create_manual(s, tenant_id=who.tenant_id, actor=who.actor, now=now,
                                       fields={"title": body.title, "summary": body.message,
                                               "severity": body.severity})
            inline = {"name": f"page INC-{inc.number}",
                      "steps": [{"delay": 0, "urgency": body.urgency, "targets": targets}]}
            engine.start(s, inc, now, inline=inline)
            s.flush()
            engine.fire(s, now, engine.PassResult())
            incident_id = inc.id
        out = _row(ctx, who, incident_id)
        out["incident_id"] = incident_id
        return out
    return await run_in_threadpool(run)


