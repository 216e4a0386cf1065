"""Managing integrations (admin API). A key is shown once, in the answer that makes it
(create, rotate-key); reads show its last characters only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import admin, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.http.ids import IdPath
from vigil.integrations import service
from vigil.integrations.models import Integration
from vigil.integrations.schemas import IntegrationCreate, IntegrationRead, IntegrationWithKey

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])

_PATHS = {
    "alertmanager": ("/api/v1/ingest/alertmanager", "/{key}"),
    "grafana": ("/api/v1/ingest/grafana", "/{key}"),
    "generic": ("/api/v1/ingest/generic", "/{key}"),
    "pagerduty": ("/v2/enqueue", ""),  # the key is the body's routing_key
    "opsgenie": ("/api/v1/ingest/opsgenie/", ""),  # Authorization: GenieKey <key>
}

GraceSeconds = Annotated[int, Query(
    ge=0, le=service.MAX_GRACE_SECONDS,
    description="how long the key being replaced keeps working (0 .. 604800 s, 7 days)")]


def ingest_url(base_url: str, type_: str, key: str | None = None) -> str:
    """Where an integration of ``type_`` sends: with ``key`` in the path where the format
    takes it there, else without a key."""
    path, key_part = _PATHS[type_]
    return base_url.rstrip("/") + path + (key_part.format(key=key) if key else "")


def _read(ctx: Context, integ: Integration) -> IntegrationRead:
    return IntegrationRead(
        id=integ.id, name=integ.name, type=integ.type, key_hint=integ.key_hint,
        previous_key_expires_at=service.previous_key_until(integ, ctx.clock.now()),
        config=integ.config, created_at=integ.created_at, revoked_at=integ.revoked_at,
        last_received_at=integ.last_received_at,
        url=ingest_url(ctx.settings.base_url, integ.type))


def _with_key(ctx: Context, integ: Integration, key: str) -> IntegrationWithKey:
    return IntegrationWithKey(**_read(ctx, integ).model_dump(), key=key,
                              key_url=ingest_url(ctx.settings.base_url, integ.type, key))


@router.get("", response_model=list[IntegrationRead])
async def list_integrations(
    who: Principal = Depends(viewer), ctx: Context = Depends(get_context)
) -> list[IntegrationRead]:
    def run() -> list[IntegrationRead]:
        with ctx.db.read() as s:
            return [_read(ctx, i) for i in service.list_integrations(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post("", response_model=IntegrationWithKey, status_code=201)
async def create_integration(
    body: IntegrationCreate, who: Principal = Depends(admin), ctx: Context = Depends(get_context)
) -> IntegrationWithKey:
    """Create an integration. The answer holds its key: the only time it is shown."""
    def run() -> IntegrationWithKey:
        with ctx.db.write() as s:
            integ, key = service.create_integration(
                s, tenant_id=who.tenant_id, name=body.name, type=body.type, config=body.config,
                now=ctx.clock.now(),
            )
            return _with_key(ctx, integ, key)
    return await run_in_threadpool(run)


@router.get("/{integration_id}", response_model=IntegrationRead)
async def get_integration(
    integration_id: IdPath, who: Principal = Depends(viewer), ctx: Context = Depends(get_context)
) -> IntegrationRead:
    def run() -> IntegrationRead:
        with ctx.db.read() as s:
            return _read(ctx, service.get_integration(
                s, tenant_id=who.tenant_id, integration_id=integration_id))
    return await run_in_threadpool(run)


@router.post("/{integration_id}/rotate-key", response_model=IntegrationWithKey)
async def rotate_key(
    integration_id: IdPath, grace_seconds: GraceSeconds = 0,
    who: Principal = Depends(admin), ctx: Context = Depends(get_context),
) -> IntegrationWithKey:
    """Replace the integration's key; the answer holds the new key, shown this once. The
    old key stops working at once (within a second on other nodes), or after
    ``grace_seconds`` so senders can be switched over. A key still in an earlier grace
    period stops at once. 409 for a revoked integration."""
    def run() -> IntegrationWithKey:
        with ctx.db.write() as s:
            integ, key, _ = service.rotate_key(
                s, tenant_id=who.tenant_id, integration_id=integration_id,
                now=ctx.clock.now(), grace_seconds=grace_seconds)
            return _with_key(ctx, integ, key)
    return await run_in_threadpool(run)


@router.delete("/{integration_id}", response_model=IntegrationRead)
async def revoke_integration(
    integration_id: IdPath, who: Principal = Depends(admin), ctx: Context = Depends(get_context)
) -> IntegrationRead:
    def run() -> IntegrationRead:
        with ctx.db.write() as s:
            integ = service.revoke_integration(
                s, tenant_id=who.tenant_id, integration_id=integration_id, now=ctx.clock.now()
            )
            return _read(ctx, integ)
    return await run_in_threadpool(run)
