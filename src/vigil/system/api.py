from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from vigil import __version__
from vigil.context import Context, get_context
from vigil.system.health import check

router = APIRouter(tags=["system"])


@router.get("/health", responses={503: {"description": "Vigil cannot page: the body gives "
                                                      "the reasons"}})
async def health(ctx: Context = Depends(get_context)) -> JSONResponse:
    """200 while Vigil can page; 503 with the reasons while it cannot (the database does
    not answer, a consumer of the outbox is behind, a background loop keeps failing)."""
    report = await run_in_threadpool(check, ctx)
    body: dict[str, Any] = {
        "status": "ok" if report.ok else "degraded",
        "database": "unreachable" if any("database" in r for r in report.reasons) else "ok",
        "reasons": list(report.reasons), "consumers": list(report.consumers)}
    return JSONResponse(body, status_code=200 if report.ok else 503)


@router.get("/system/info")
async def info(ctx: Context = Depends(get_context)) -> dict[str, Any]:
    url = ctx.db.engine.url
    return {
        "version": __version__,
        "database": {
            "dialect": ctx.db.dialect,
            "url": url.render_as_string(hide_password=True),
        },
        "queue_depth": ctx.runner.queue_depth,
        "uptime_seconds": round(time.monotonic() - ctx.started, 3),
        "started_at": ctx.started_at.isoformat() if ctx.started_at else None,
    }


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(ctx: Context = Depends(get_context)) -> Response:
    ctx.metrics.queue_depth.set(ctx.runner.queue_depth)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
