"""``/ui/audit``: the audit log for admins, newest first, each change as a diff of the
values before and after."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.audit import service
from vigil.audit.models import AuditEntry
from vigil.context import Context, get_context
from vigil.web.render import Viewer, page, signed_in

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100
#: A value longer than this is cut in the diff (the API has it whole).
MAX_VALUE_CHARS = 400
ACTIONS = ("create", "update", "delete", "sign_in", "sign_in_failed", "sign_out")


def show(value: Any) -> str:
    """A value as one line of text: strings as they are, the rest as compact JSON."""
    if value == "":
        return "(empty)"
    text = value if isinstance(value, str) else orjson.dumps(
        value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One line per key: ``changed`` (both sides), ``added`` or ``removed``; keys whose
    value stayed the same are left out (but for a create or delete, which show all)."""
    old, new = before or {}, after or {}
    lines: list[dict[str, Any]] = []
    for key in sorted(old.keys() | new.keys()):
        if key in old and key in new:
            if old[key] == new[key]:
                continue
            lines.append({"key": key, "state": "changed", "before": show(old[key]),
                          "after": show(new[key])})
        elif key in new:
            lines.append({"key": key, "state": "added", "before": None,
                          "after": show(new[key])})
        else:
            lines.append({"key": key, "state": "removed", "before": show(old[key]),
                          "after": None})
    return lines


def _item(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "at": e.occurred_at, "actor": e.actor, "action": e.action,
            "target": e.target, "address": e.address, "lines": diff(e.before, e.after)}


@router.get("/ui/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    actor: str | None = Query(None, max_length=200),
    action: str | None = Query(None, max_length=64),
    target_type: str | None = Query(None, max_length=64),
    cursor: str | None = Query(None, max_length=200),
    who: Viewer = Depends(signed_in("admin")),
    ctx: Context = Depends(get_context),
) -> Response:
    wanted = service.AuditFilter(actor=actor or None, action=action or None,
                                 target_type=target_type or None)

    def run() -> tuple[list[dict[str, Any]], str | None]:
        with ctx.db.read() as s:
            rows, nxt = service.list_entries(s, tenant_id=who.tenant_id, filters=wanted,
                                             limit=PAGE_SIZE, cursor=cursor)
            return [_item(e) for e in rows], nxt

    items, nxt = await run_in_threadpool(run)  # a bad cursor: a 400 naming it
    more = None
    if nxt is not None:
        kept = {k: v for k, v in (("actor", actor), ("action", action),
                                  ("target_type", target_type)) if v}
        more = {**kept, "cursor": nxt}
    return page(request, "audit.html", who, ctx, entries=items, more=more,
                actions=ACTIONS, actor=actor or "", action=action or "",
                target_type=target_type or "", paged=cursor is not None)
