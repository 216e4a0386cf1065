"""Outbox events a consumer failed on: list them, replay the parked ones after a fix."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import admin
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.errors import InvalidInput
from vigil.outbox import consumer
from vigil.outbox.models import OutboxFailure

router = APIRouter(prefix="/api/v1/outbox", tags=["system"])


def read(f: OutboxFailure) -> dict[str, Any]:
    return {"id": f.id, "consumer": f.consumer, "event_id": f.event_id, "topic": f.topic,
            "attempts": f.attempts, "error": f.error,
            "state": "parked" if f.parked_at else "retrying",
            "first_failed_at": f.first_failed_at.isoformat(),
            "last_failed_at": f.last_failed_at.isoformat(),
            "next_attempt_at": f.next_attempt_at.isoformat() if f.next_attempt_at else None,
            "parked_at": f.parked_at.isoformat() if f.parked_at else None,
            "replayed_at": f.replayed_at.isoformat() if f.replayed_at else None}


@router.get("/failures")
async def list_failures(state: str | None = Query(None, pattern="^(parked|retrying)$"),
                        consumer_name: str | None = Query(None, alias="consumer",
                                                          max_length=64),
                        limit: int = Query(100, ge=1, le=1000),
                        who: Principal = Depends(admin),
                        ctx: Context = Depends(get_context)) -> list[dict[str, Any]]:
    """Events a consumer failed on: being retried, or parked after its last attempt."""
    def run() -> list[dict[str, Any]]:
        with ctx.db.read() as s:
            return [read(f) for f in consumer.failures(
                s, tenant_id=who.tenant_id, consumer=consumer_name,
                parked=None if state is None else state == "parked", limit=limit)]
    return await run_in_threadpool(run)


@router.post("/failures/replay")
async def replay_failures(body: dict[str, Any] = Body(default_factory=dict),
                          who: Principal = Depends(admin),
                          ctx: Context = Depends(get_context)) -> dict[str, int]:
    """Replay parked events: ``{"ids": [1, 2]}`` or ``{"all": true}``. Each is retried at
    the consumer's next pass with a fresh count of attempts."""
    ids = body.get("ids")
    every = body.get("all") is True
    if ids is None and not every:
        raise InvalidInput("give ids (a list of failure ids) or all: true", field="ids")
    if ids is not None and (not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids)):
        raise InvalidInput("ids must be a list of failure ids", field="ids")

    def run() -> int:
        with ctx.db.write() as s:
            return consumer.replay(s, ids=None if every else ids, now=ctx.clock.now(),
                                   tenant_id=who.tenant_id)
    return {"replayed": await run_in_threadpool(run)}
