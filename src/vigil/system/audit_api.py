"""``GET /api/v1/audit``: the audit log, for admins, newest first, a page at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from vigil.audit import service
from vigil.auth.deps import admin
from vigil.auth.service import Principal
from vigil.clock import ensure_utc
from vigil.context import Context, get_context

router = APIRouter(tags=["system"])


def filters(actor: str | None, action: str | None, target_type: str | None,
            target: str | None, since: datetime | None,
            until: datetime | None) -> service.AuditFilter:
    return service.AuditFilter(
        actor=actor or None, action=action or None, target_type=target_type or None,
        target=target or None, since=ensure_utc(since) if since else None,
        until=ensure_utc(until) if until else None)


@router.get("/api/v1/audit")
async def list_audit(
    actor: str | None = Query(None, max_length=200,
                              description="apikey:<name>, user:<username>, cli, system, ..."),
    action: str | None = Query(None, max_length=64,
                               description="create, update, delete, sign_in, ..."),
    target_type: str | None = Query(None, max_length=64,
                                    description="silence, channel, correlation_rule, ..."),
    target: str | None = Query(None, max_length=400, description="<type>:<id>"),
    since: datetime | None = Query(None, description="at or after"),
    until: datetime | None = Query(None, description="before"),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=200),
    who: Principal = Depends(admin),
    ctx: Context = Depends(get_context),
) -> dict[str, Any]:
    """Configuration changes and sign-ins: who (``actor``), when, what (``target``), and
    the values ``before`` and ``after`` (secrets masked)."""
    wanted = filters(actor, action, target_type, target, since, until)

    def run() -> dict[str, Any]:
        with ctx.db.read() as s:
            rows, nxt = service.list_entries(s, tenant_id=who.tenant_id, filters=wanted,
                                             limit=limit, cursor=cursor)
            return {"items": [service.entry_read(e) for e in rows], "next_cursor": nxt}
    return await run_in_threadpool(run)
