"""``/api/v1/channels`` (with a real test send), ``/api/v1/routing-rules``,
``/api/v1/notification-templates`` (with preview), ``/api/v1/deliveries``, and the signed
action links ``/a/{token}`` that work without signing in."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from vigil.auth import signing
from vigil.auth.deps import admin, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.errors import Conflict, NotFound
from vigil.http.bodies import JsonObjectRoute
from vigil.http.ids import MAX_BIG_ID, BigIdQuery, IdPath
from vigil.incidents.models import Incident
from vigil.incidents.service import act, get_incident
from vigil.notify import delivery, links, templates
from vigil.notify import service as svc
from vigil.notify.models import Delivery, RoutingRule

router = APIRouter(tags=["notifications"], route_class=JsonObjectRoute)


@router.get("/api/v1/channels")
async def list_channels(who: Principal = Depends(viewer),
                        ctx: Context = Depends(get_context)) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        with ctx.db.read() as s:
            return [svc.channel_read(c) for c in svc.list_channels(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post("/api/v1/channels", status_code=201)
async def create_channel(body: dict[str, Any] = Body(), who: Principal = Depends(admin),
                         ctx: Context = Depends(get_context)) -> dict[str, Any]:
    spec = svc.validated(svc.ChannelIn, body)

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            row, _ = svc.upsert_channel(s, tenant_id=who.tenant_id, body=spec,
                                        now=ctx.clock.now(), create_only=True)
            return svc.channel_read(row)
    return await run_in_threadpool(run)


@router.put("/api/v1/channels/{channel_id}")
async def replace_channel(channel_id: IdPath, body: dict[str, Any] = Body(),
                          who: Principal = Depends(admin),
                          ctx: Context = Depends(get_context)) -> dict[str, Any]:
    spec = svc.validated(svc.ChannelIn, body)

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            row, _ = svc.upsert_channel(s, tenant_id=who.tenant_id, body=spec,
                                        now=ctx.clock.now(), channel_id=channel_id)
            s.flush()
            return svc.channel_read(row)
    return await run_in_threadpool(run)


@router.delete("/api/v1/channels/{channel_id}", status_code=204)
async def delete_channel(channel_id: IdPath, who: Principal = Depends(admin),
                         ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            c = svc.get_channel(s, tenant_id=who.tenant_id, channel_id=channel_id)
            used = [r.name for r in s.scalars(select(RoutingRule).where(
                RoutingRule.tenant_id == who.tenant_id)) if c.name in r.spec["channels"]]
            if used:
                raise Conflict(f"channel {c.name!r} is used by routing rules "
                               f"{', '.join(used)}", field="id")
            s.delete(c)
    await run_in_threadpool(run)
    return Response(status_code=204)


@router.post("/api/v1/channels/{channel_id}/test")
async def test_channel(channel_id: IdPath, address: str = Body("", embed=True),
                       who: Principal = Depends(admin),
                       ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """Send a real test message through the channel and report what happened."""
    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            c = svc.get_channel(s, tenant_id=who.tenant_id, channel_id=channel_id)
            d = Delivery(tenant_id=who.tenant_id, key=f"test:{c.id}:{now.timestamp()}",
                         incident_id=None, channel_id=c.id, channel_kind=c.kind,
                         address=address, event="test", recipient=None, status="sending",
                         attempts=1, payload={}, created_at=now, updated_at=now)
            msg = delivery.message_for(s, d, c.kind, ctx.settings.base_url,
                                       signing.secret(s), now)
            claim = delivery.Claim(0, d.key, c.kind, svc.channel_config(s, c), c.name,
                                   address, "test", msg)
        ((_, result),) = delivery.send([claim])
        return {"ok": result.ok, "retryable": result.retryable,
                "provider_id": result.provider_id, "detail": result.detail}
    return await run_in_threadpool(run)


@router.get("/api/v1/routing-rules")
async def list_routing(who: Principal = Depends(viewer),
                       ctx: Context = Depends(get_context)) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        with ctx.db.read() as s:
            return [{"id": r.id, **r.spec} for r in s.scalars(select(RoutingRule).where(
                RoutingRule.tenant_id == who.tenant_id).order_by(RoutingRule.id))]
    return await run_in_threadpool(run)


@router.post("/api/v1/routing-rules", status_code=201)
async def create_routing(body: dict[str, Any] = Body(examples=[{
        "name": "critical to email and slack", "severities": ["critical"],
        "channels": ["ops-email", "ops-slack"]}]),
        who: Principal = Depends(admin), ctx: Context = Depends(get_context)) -> dict[str, Any]:
    spec = svc.validated(svc.RoutingIn, body)

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            row, _ = svc.upsert_routing(s, tenant_id=who.tenant_id, body=spec,
                                        now=ctx.clock.now(), create_only=True)
            return {"id": row.id, **row.spec}
    return await run_in_threadpool(run)


@router.delete("/api/v1/routing-rules/{rule_id}", status_code=204)
async def delete_routing(rule_id: IdPath, who: Principal = Depends(admin),
                         ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            r = s.get(RoutingRule, rule_id)
            if r is None or r.tenant_id != who.tenant_id:
                raise NotFound(f"no routing rule {rule_id}", field="id")
            s.delete(r)
    await run_in_threadpool(run)
    return Response(status_code=204)


@router.put("/api/v1/notification-templates")
async def set_template(body: dict[str, Any] = Body(), who: Principal = Depends(admin),
                       ctx: Context = Depends(get_context)) -> dict[str, Any]:
    spec = svc.validated(svc.TemplateIn, body)

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            row = svc.set_template(s, tenant_id=who.tenant_id, body=spec, now=ctx.clock.now())
            return {"kind": row.kind, "event": row.event, "title": row.title, "body": row.body}
    return await run_in_threadpool(run)


@router.post("/api/v1/notification-templates/preview")
async def preview(incident_id: int = Body(embed=True, ge=1, le=MAX_BIG_ID),
                  kind: str = Body("email", embed=True),
                  event: str = Body("triggered", embed=True),
                  title: str | None = Body(None, embed=True),
                  body: str | None = Body(None, embed=True),
                  who: Principal = Depends(viewer),
                  ctx: Context = Depends(get_context)) -> dict[str, Any]:
    """Render a template (the stored one, or ``title``/``body`` given here) against a real
    incident. A given template that fails, or goes past the sandbox's bounds, is a 422
    naming ``title`` or ``body``."""
    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.read() as s:
            inc = get_incident(s, tenant_id=who.tenant_id, incident_id=incident_id)
            d = Delivery(tenant_id=who.tenant_id, key="preview", incident_id=inc.id,
                         channel_kind=kind, address="", event=event, payload={},
                         created_at=now, updated_at=now)
            if title is not None and body is not None:
                svc.validated(svc.TemplateIn, {"kind": kind, "event": event, "title": title,
                                               "body": body})
                ctx_ = delivery._context(s, inc, ctx.settings.base_url, b"preview", now)
                t, text, htm = templates.render(kind, event, ctx_, (title, body),
                                                strict=True)
                return {"title": t, "text": text, "html": htm}
            msg = delivery.message_for(s, d, kind, ctx.settings.base_url, b"preview", now)
            return {"title": msg.title, "text": msg.text, "html": msg.html}
    return await run_in_threadpool(run)


@router.get("/api/v1/deliveries")
async def list_deliveries(incident_id: BigIdQuery = None,
                          status: str | None = None, limit: int = Query(100, ge=1, le=1000),
                          who: Principal = Depends(viewer),
                          ctx: Context = Depends(get_context)) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        with ctx.db.read() as s:
            stmt = select(Delivery).where(Delivery.tenant_id == who.tenant_id)
            if incident_id is not None:
                stmt = stmt.where(Delivery.incident_id == incident_id)
            if status:
                stmt = stmt.where(Delivery.status == status)
            return [{"id": d.id, "key": d.key, "incident_id": d.incident_id,
                     "channel_kind": d.channel_kind, "address": d.address, "event": d.event,
                     "recipient": d.recipient, "status": d.status, "attempts": d.attempts,
                     "next_attempt_at": d.next_attempt_at, "last_error": d.last_error,
                     "provider_id": d.provider_id, "sent_at": d.sent_at}
                    for d in s.scalars(stmt.order_by(Delivery.id.desc()).limit(limit))]
    return await run_in_threadpool(run)


_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Vigil</title></head>
<body style="font-family:system-ui;max-width:32rem;margin:3rem auto;padding:0 1rem">
<h1 style="font-size:1.3rem">{title}</h1><p>{text}</p>{form}</body></html>"""


@router.get("/a/{token}", response_class=HTMLResponse, include_in_schema=False)
async def action_page(token: str, ctx: Context = Depends(get_context)) -> HTMLResponse:
    """A confirmation page (link previews must not act on a GET)."""
    def run() -> HTMLResponse:
        with ctx.db.write() as s:
            found = links.read(signing.secret(s), token, ctx.clock.now())
            inc = s.get(Incident, found.incident_id)
            if inc is None:
                raise NotFound("this link is not valid", field="token")
            form = (f'<form method="post"><button style="font-size:1.2rem;padding:.6rem 1.4rem"'
                    f' type="submit">{found.action.capitalize()} INC-{inc.number}</button>'
                    f'</form>')
            text = f"Status: {inc.status}"
            if found.recipient:
                text += f" \u00b7 as {found.recipient}"
            return HTMLResponse(_PAGE.format(title=html.escape(f"INC-{inc.number}: {inc.title}"),
                                             text=html.escape(text), form=form))
    return await run_in_threadpool(run)


@router.post("/a/{token}", response_class=HTMLResponse, include_in_schema=False)
async def action_do(token: str, request: Request,
                    ctx: Context = Depends(get_context)) -> HTMLResponse:
    def run() -> HTMLResponse:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            found = links.read(signing.secret(s), token, now)
            inc = s.get(Incident, found.incident_id)
            if inc is None:
                raise NotFound("this link is not valid", field="token")
            # Recorded as by the person the link was sent to (older tokens name no one).
            actor = f"user:{found.recipient}" if found.recipient else "link"
            try:
                act(s, tenant_id=inc.tenant_id, incident_id=inc.id, action=found.action,
                    actor=actor, now=now)
                text = f"Done: INC-{inc.number} is {inc.status}."
            except Conflict as exc:
                text = exc.message
            return HTMLResponse(_PAGE.format(title=html.escape(f"INC-{inc.number}"),
                                             text=html.escape(text), form=""))
    return await run_in_threadpool(run)
