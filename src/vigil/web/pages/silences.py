"""Silences and maintenance windows (and the inhibition rules beside them): lists with
their state, expire / delete buttons and create forms for responders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from vigil.context import Context, get_context
from vigil.errors import InvalidInput
from vigil.muting import rules_service
from vigil.muting import silences_service as silences
from vigil.muting.models import Silence
from vigil.web.pages.alerts import DURATIONS
from vigil.web.render import Viewer, page, signed_in

router = APIRouter(include_in_schema=False)
MAX_SILENCES = 200
_ORDER = {"active": 0, "pending": 1, "scheduled": 1, "expired": 2}


def matcher_text(m: Any) -> str:
    if isinstance(m, dict):
        value = str(m.get("value", "")).replace("\\", "\\\\").replace('"', '\\"')
        return f'{m.get("name", "")}{m.get("op", "=")}"{value}"'
    return str(m)


def _window(w: Any, now: Any) -> dict[str, Any]:
    try:
        return rules_service.window_read(w, now)
    except InvalidInput as exc:  # stored before a rule changed: show it, flagged
        return {"id": w.id, "name": w.name, "comment": w.comment, "matchers": [],
                "state": f"invalid: {exc.message}", "next": [], "created_by": w.created_by}


@router.get("/ui/silences", response_class=HTMLResponse)
async def silences_page(request: Request, who: Viewer = Depends(signed_in()),
                        ctx: Context = Depends(get_context)) -> Response:
    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.read() as s:
            rows = list(s.scalars(select(Silence).where(Silence.tenant_id == who.tenant_id)
                                  .order_by(Silence.ends_at.desc(), Silence.id.desc())
                                  .limit(MAX_SILENCES)))
            items = [{"row": r, "state": silences.state(r, now),
                      "matchers": [matcher_text(m) for m in r.matchers]} for r in rows]
            windows = [_window(w, now)
                       for w in rules_service.list_windows(s, tenant_id=who.tenant_id)]
            inhibitions = [rules_service.inhibition_read(r)
                           for r in rules_service.list_inhibitions(s, tenant_id=who.tenant_id)]
            s.expunge_all()
        items.sort(key=lambda i: _ORDER.get(str(i["state"]), 3))
        windows.sort(key=lambda w: (_ORDER.get(w["state"], 3), w["name"]))
        return {"silences": items, "windows": windows, "inhibitions": inhibitions,
                "limit": MAX_SILENCES}

    data = await run_in_threadpool(run)
    return page(request, "silences.html", who, ctx, durations=DURATIONS,
                matcher_text=matcher_text, **data)
