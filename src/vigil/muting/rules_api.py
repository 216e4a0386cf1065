"""``/api/v1/maintenance-windows`` and ``/api/v1/inhibition-rules``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Response
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import responder, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.errors import Conflict
from vigil.http.bodies import JsonObjectRoute
from vigil.http.ids import IdPath
from vigil.muting import rules_service

router = APIRouter(tags=["maintenance and inhibition"], route_class=JsonObjectRoute)
_WINDOWS = "/api/v1/maintenance-windows"
_INHIBIT = "/api/v1/inhibition-rules"
_WINDOW_EXAMPLE = {"name": "sunday db patching", "matchers": ['service="db"'],
                   "schedule": {"cron": "0 2 * * 0", "timezone": "Europe/Berlin"},
                   "duration_minutes": 120}
_INHIBIT_EXAMPLE = {"name": "critical mutes warning", "source_matchers": ['severity="critical"'],
                    "target_matchers": ['severity="warning"'], "equal": ["cluster", "service"]}


@router.get(_WINDOWS)
async def list_windows(who: Principal = Depends(viewer),
                       ctx: Context = Depends(get_context)) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        with ctx.db.read() as s:
            now = ctx.clock.now()
            return [rules_service.window_read(w, now)
                    for w in rules_service.list_windows(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post(_WINDOWS, status_code=201)
async def create_window(body: dict[str, Any] = Body(examples=[_WINDOW_EXAMPLE]),
                        who: Principal = Depends(responder),
                        ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """One-off (``starts_at`` + ``ends_at`` or ``duration_minutes``) or recurring
    (``schedule.cron`` or ``schedule.rrule`` with ``timezone``, and ``duration_minutes``)."""
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            now = ctx.clock.now()
            w, outcome = rules_service.upsert_window(s, tenant_id=who.tenant_id, data=body,
                                             actor=who.actor, now=now)
            if outcome != "created":  # rolled back: nothing changes
                raise Conflict(f"a maintenance window named {w.name!r} exists", field="name")
            return rules_service.window_read(w, now)
    return await run_in_threadpool(run)


@router.get(_WINDOWS + "/{window_id}")
async def get_window(window_id: IdPath, who: Principal = Depends(viewer),
                     ctx: Context = Depends(get_context)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with ctx.db.read() as s:
            return rules_service.window_read(rules_service.get_window(s, tenant_id=who.tenant_id,
                                                      window_id=window_id), ctx.clock.now())
    return await run_in_threadpool(run)


@router.put(_WINDOWS + "/{window_id}")
async def replace_window(window_id: IdPath, body: dict[str, Any] = Body(),
                         who: Principal = Depends(responder),
                         ctx: Context = Depends(get_context)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            now = ctx.clock.now()
            w, _ = rules_service.upsert_window(s, tenant_id=who.tenant_id, data=body,
                                               actor=who.actor, now=now, window_id=window_id)
            s.flush()
            return rules_service.window_read(w, now)
    return await run_in_threadpool(run)


@router.delete(_WINDOWS + "/{window_id}", status_code=204)
async def delete_window(window_id: IdPath, who: Principal = Depends(responder),
                        ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            rules_service.end_window(s, tenant_id=who.tenant_id, window_id=window_id,
                             now=ctx.clock.now())
    await run_in_threadpool(run)
    return Response(status_code=204)


@router.get(_INHIBIT)
async def list_inhibitions(who: Principal = Depends(viewer),
                           ctx: Context = Depends(get_context)) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        with ctx.db.read() as s:
            return [rules_service.inhibition_read(r)
                    for r in rules_service.list_inhibitions(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post(_INHIBIT, status_code=201)
async def create_inhibition(body: dict[str, Any] = Body(examples=[_INHIBIT_EXAMPLE]),
                            who: Principal = Depends(responder),
                            ctx: Context = Depends(get_context)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            r, outcome = rules_service.upsert_inhibition(s, tenant_id=who.tenant_id, data=body,
                                                 now=ctx.clock.now())
            if outcome != "created":
                raise Conflict(f"an inhibition rule named {r.name!r} exists", field="name")
            return rules_service.inhibition_read(r)
    return await run_in_threadpool(run)


@router.delete(_INHIBIT + "/{rule_id}", status_code=204)
async def delete_inhibition(rule_id: IdPath, who: Principal = Depends(responder),
                            ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            rules_service.delete_inhibition(s, tenant_id=who.tenant_id, rule_id=rule_id)
    await run_in_threadpool(run)
    return Response(status_code=204)
