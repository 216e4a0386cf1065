"""``/api/v1/schedules`` (definitions, overrides, swaps, shifts, reports, iCalendar feeds
and import) and ``/api/v1/oncall`` (who is on call now, across every schedule)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Body, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import admin, responder, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.errors import InvalidInput, MalformedBody
from vigil.http.bodies import JsonObjectRoute
from vigil.http.ids import IdPath
from vigil.oncall.schedules import service as svc
from vigil.oncall.schedules import shifts as q

router = APIRouter(tags=["on-call schedules"], route_class=JsonObjectRoute)
_BASE = "/api/v1/schedules"
_ONE = _BASE + "/{schedule_id}"
_CALENDAR = "text/calendar; charset=utf-8"
_EXAMPLE = {"name": "primary", "time_zone": "Europe/Berlin",
            "layers": [{"name": "weekly", "rotation": {
                "type": "weekly", "start": "2026-03-02", "handoff": "09:00",
                "participants": ["alice", "bob", "carol"]}}]}
_OVERRIDE_EXAMPLE = {"type": "replace", "user": "dave", "replaces": "alice",
                     "start": "2026-03-05T08:00:00Z", "end": "2026-03-06T08:00:00Z"}
_SWAP_EXAMPLE = {"requester": "alice", "counterpart": "bob",
                 "start": "2026-03-07T09:00:00Z", "end": "2026-03-08T09:00:00Z"}


@router.get(_BASE)
async def list_schedules(who: Principal = Depends(viewer),
                         ctx: Context = Depends(get_context)) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        with ctx.db.read() as s:
            now = ctx.clock.now()
            return [svc.read(r, now=now, base_url=ctx.settings.base_url)
                    for r in svc.list_schedules(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post(_BASE, status_code=201)
async def create_schedule(body: dict[str, Any] = Body(examples=[_EXAMPLE]),
                          who: Principal = Depends(admin),
                          ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """The body is the schedule's definition (the shape of ``oncall.validation``); every
    participant must be a user of the tenant."""
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            now = ctx.clock.now()
            row = svc.create_schedule(s, tenant_id=who.tenant_id, data=body, now=now)
            return svc.read(row, now=now, base_url=ctx.settings.base_url)
    return await run_in_threadpool(run)


@router.get(_ONE)
async def get_schedule(schedule_id: IdPath, who: Principal = Depends(viewer),
                       ctx: Context = Depends(get_context)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with ctx.db.read() as s:
            row = svc.get_schedule(s, tenant_id=who.tenant_id, schedule_id=schedule_id)
            return svc.read(row, now=ctx.clock.now(), base_url=ctx.settings.base_url)
    return await run_in_threadpool(run)


@router.put(_ONE)
async def replace_schedule(schedule_id: IdPath, body: dict[str, Any] = Body(),
                           who: Principal = Depends(admin),
                           ctx: Context = Depends(get_context)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            now = ctx.clock.now()
            row = svc.update_schedule(s, tenant_id=who.tenant_id, schedule_id=schedule_id,
                                      data=body, now=now)
            s.flush()
            return svc.read(row, now=now, base_url=ctx.settings.base_url)
    return await run_in_threadpool(run)


@router.delete(_ONE, status_code=204)
async def delete_schedule(schedule_id: IdPath, who: Principal = Depends(admin),
                          ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            svc.delete_schedule(s, tenant_id=who.tenant_id, schedule_id=schedule_id)
    await run_in_threadpool(run)
    return Response(status_code=204)


@router.post(_ONE + "/overrides", status_code=201)
async def add_override(schedule_id: IdPath,
                       body: dict[str, Any] = Body(examples=[_OVERRIDE_EXAMPLE]),
                       who: Principal = Depends(responder),
                       ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """``{type: add | remove | replace, user, replaces?, start, end}``; the answer carries
    the override's ``index`` (its place in the schedule's ``overrides``)."""
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return svc.add_override(s, tenant_id=who.tenant_id, schedule_id=schedule_id,
                                    data=body, now=ctx.clock.now())
    return await run_in_threadpool(run)


@router.delete(_ONE + "/overrides/{index}", status_code=204)
async def remove_override(schedule_id: IdPath, index: int, who: Principal = Depends(responder),
                          ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            svc.remove_override(s, tenant_id=who.tenant_id, schedule_id=schedule_id,
                                index=index, now=ctx.clock.now())
    await run_in_threadpool(run)
    return Response(status_code=204)


@router.post(_ONE + "/swaps", status_code=201)
async def request_swap(schedule_id: IdPath, body: dict[str, Any] = Body(examples=[_SWAP_EXAMPLE]),
                       who: Principal = Depends(responder),
                       ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """``{requester, counterpart, start, end[, return_start, return_end]}`` becomes a swap
    in state ``requested``; it changes nothing until the counterpart accepts it."""
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return svc.request_swap(s, tenant_id=who.tenant_id, schedule_id=schedule_id,
                                    data=body, now=ctx.clock.now())
    return await run_in_threadpool(run)


@router.post(_ONE + "/swaps/{swap_id}/{action}")
async def act_on_swap(schedule_id: IdPath, swap_id: str, action: str,
                      body: dict[str, Any] = Body(examples=[{"by": "bob"}]),
                      who: Principal = Depends(responder),
                      ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """``accept`` or ``decline`` (by the counterpart), ``cancel`` (by the requester), with
    ``{"by": username}``: 409 unless the swap is still requested, 403 for anyone else."""
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return svc.act_on_swap(s, tenant_id=who.tenant_id, schedule_id=schedule_id,
                                   swap_id=swap_id, action=action, by=body.get("by"),
                                   now=ctx.clock.now())
    return await run_in_threadpool(run)


@router.get(_ONE + "/shifts")
async def get_shifts(schedule_id: IdPath, start: str | None = None, end: str | None = None,
                     who: Principal = Depends(viewer),
                     ctx: Context = Depends(get_context)) -> list[dict[str, Any]]:
    """Final shifts (layers, temporary schedules, accepted swaps and overrides applied) in
    ``[start, end)``; default: the next 7 days."""
    def run() -> list[dict[str, Any]]:
        a, b = _range(ctx, start, end)
        with ctx.db.read() as s:
            schedule = svc.load(svc.get_schedule(s, tenant_id=who.tenant_id,
                                                 schedule_id=schedule_id))
        return [{"user": x.user, "start": svc.iso(x.start), "end": svc.iso(x.end),
                 "hours": x.hours} for x in q.final_shifts(schedule, a, b)]
    return await run_in_threadpool(run)


@router.get(_ONE + "/report")
async def get_report(schedule_id: IdPath, start: str | None = None, end: str | None = None,
                     who: Principal = Depends(viewer),
                     ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """Gaps (nobody on call), hours on call per person and the covered fraction of
    ``[start, end)``; default: the next 7 days."""
    def run() -> dict[str, Any]:
        a, b = _range(ctx, start, end)
        with ctx.db.read() as s:
            schedule = svc.load(svc.get_schedule(s, tenant_id=who.tenant_id,
                                                 schedule_id=schedule_id))
        report = q.quality_report(schedule, a, b)
        return {"start": svc.iso(report.start), "end": svc.iso(report.end),
                "gaps": [{"start": svc.iso(g.start), "end": svc.iso(g.end), "hours": g.hours}
                         for g in report.gaps],
                "gap_hours": report.gap_hours, "hours": report.hours,
                "covered_fraction": report.covered_fraction}
    return await run_in_threadpool(run)


@router.get(_ONE + "/shifts.ics")
async def schedule_calendar(schedule_id: IdPath, token: str = "",
                            ctx: Context = Depends(get_context)) -> Response:
    """The next 90 days of final shifts as iCalendar, for calendar apps: no API key, the
    schedule's ``ical_url`` token instead (404 for a wrong one)."""
    def run() -> bytes:
        with ctx.db.read() as s:
            return svc.schedule_feed(s, schedule_id=schedule_id, token=token,
                                     now=ctx.clock.now())
    return Response(await run_in_threadpool(run), media_type=_CALENDAR)


@router.get("/api/v1/users/{user_id}/shifts.ics")
async def user_calendar(user_id: IdPath, token: str = "",
                        ctx: Context = Depends(get_context)) -> Response:
    """The user's own shifts across every schedule, with the user's ``ical_token``."""
    def run() -> bytes:
        with ctx.db.read() as s:
            return svc.user_feed(s, user_id=user_id, token=token, now=ctx.clock.now())
    return Response(await run_in_threadpool(run), media_type=_CALENDAR)


@router.post(_ONE + "/import", status_code=201)
async def import_calendar(schedule_id: IdPath, request: Request, who: Principal = Depends(admin),
                          ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """A ``text/calendar`` body (or JSON ``{"ics": "..."}``): its events become a temporary
    schedule covering their span; each event's user is read from "On call: <user>"."""
    raw = await request.body()
    ics: bytes | str = raw
    if "json" in request.headers.get("content-type", ""):
        if not raw.strip():
            raise MalformedBody("the request body is empty; send {\"ics\": \"...\"}",
                                field="body")
        try:  # JsonObjectRoute has checked a JSON body already; this is the fallback
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise MalformedBody("the body is not valid JSON", field="body") from None
        if not isinstance(data, dict):
            raise MalformedBody("expected a JSON object", field="body")
        if not isinstance(data.get("ics"), str):
            raise InvalidInput("expected {\"ics\": \"BEGIN:VCALENDAR...\"}", field="ics")
        ics = data["ics"]
    if not ics.strip():
        raise InvalidInput("the body must be an iCalendar file", field="ics")

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return svc.import_temporary(s, tenant_id=who.tenant_id, schedule_id=schedule_id,
                                        ics=ics, now=ctx.clock.now())
    return await run_in_threadpool(run)


@router.get("/api/v1/oncall")
async def who_is_on_call(at: str | None = None, who: Principal = Depends(viewer),
                         ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """Every schedule: who is on call at ``at`` (default now) and the next handoff."""
    def run() -> dict[str, Any]:
        when = svc.parse_instant(at, field="at", default=ctx.clock.now())
        with ctx.db.read() as s:
            return {"at": svc.iso(when),
                    "schedules": svc.on_call(s, tenant_id=who.tenant_id, at=when)}
    return await run_in_threadpool(run)


def _range(ctx: Context, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    a = svc.parse_instant(start, field="start", default=ctx.clock.now())
    b = svc.parse_instant(end, field="end", default=a + timedelta(days=7))
    return a, b
