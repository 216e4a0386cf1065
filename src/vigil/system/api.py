from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from vigil import __version__
from vigil.context import Context, get_context

router = APIRouter(tags=["system"])


def _db_ok(ctx: Context) -> bool:
    try:
        with ctx.db.read() as s:
            s.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/health")
async def health(ctx: Context = Depends(get_context)) -> JSONResponse:
    ok = await run_in_threadpool(_db_ok, ctx)
    body = {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"}
    return JSONResponse(body, status_code=200 if ok else 503)


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


@router.get("/metrics")
async def metrics(ctx: Context = Depends(get_context)) -> Response:
    ctx.metrics.queue_depth.set(ctx.runner.queue_depth)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
