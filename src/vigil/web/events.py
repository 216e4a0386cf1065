"""Live updates: ``GET /ui/events`` streams incident changes from the outbox as
Server-Sent Events, so lists and pages update without a reload (within ~half a second)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from vigil.context import Context, get_context
from vigil.outbox.models import OutboxEvent
from vigil.web.render import Viewer, signed_in

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 0.4


def _latest(ctx: Context) -> int:
    with ctx.db.read() as s:
        return int(s.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0))) or 0)


def _since(ctx: Context, tenant_id: int, after: int) -> list[tuple[int, str, dict[str, object]]]:
    with ctx.db.read() as s:
        rows = s.execute(select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload).where(
            OutboxEvent.id > after, OutboxEvent.tenant_id == tenant_id,
            OutboxEvent.topic.like("incident.%")).order_by(OutboxEvent.id).limit(500))
        return [(int(i), str(t), dict(p)) for i, t, p in rows]


@router.get("/ui/events")
async def events(request: Request, who: Viewer = Depends(signed_in()),
                 ctx: Context = Depends(get_context)) -> StreamingResponse:
    start = await run_in_threadpool(_latest, ctx)

    async def stream() -> AsyncIterator[bytes]:
        last = start
        yield b": connected\n\n"
        while not await request.is_disconnected():
            for event_id, topic, payload in await run_in_threadpool(_since, ctx,
                                                                    who.tenant_id, last):
                last = event_id
                data = orjson.dumps({"topic": topic, **payload}).decode()
                yield f"id: {event_id}\ndata: {data}\n\n".encode()
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
