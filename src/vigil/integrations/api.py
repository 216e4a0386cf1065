"""Managing integrations (admin API)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import admin, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.ids import IdPath
from vigil.integrations import service
from vigil.integrations.models import Integration
from vigil.integrations.schemas import IntegrationCreate, IntegrationRead

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])

_PATHS = {
    "alertmanager": "/api/v1/ingest/alertmanager/{key}",
    "grafana": "/api/v1/ingest/grafana/{key}",
    "generic": "/api/v1/ingest/generic/{key}",
    "pagerduty": "/v2/enqueue",
    "opsgenie": "/api/v1/ingest/opsgenie/",
}


def ingest_url(base_url: str, integ: Integration) -> str:
    return base_url.rstrip("/") + _PATHS[integ.type].format(key=integ.key)


def _read(ctx: Context, integ: Integration) -> IntegrationRead:
    out = IntegrationRead.model_validate(integ)
    out.url = ingest_url(ctx.settings.base_url, integ)
    return out


@router.get("", response_model=list[IntegrationRead])
async def list_integrations(
    who: Principal = Depends(viewer), ctx: Context = Depends(get_context)
) -> list[IntegrationRead]:
    def run() -> list[IntegrationRead]:
        with ctx.db.read() as s:
            return [_read(ctx, i) for i in service.list_integrations(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post("", response_model=IntegrationRead, status_code=201)
async def create_integration(
    body: IntegrationCreate, who: Principal = Depends(admin), ctx: Context = Depends(get_context)
) -> IntegrationRead:
    def run() -> IntegrationRead:
        with ctx.db.write() as s:
            integ = service.create_integration(
                s, tenant_id=who.tenant_id, name=body.name, type=body.type, config=body.config,
                now=ctx.clock.now(),
            )
            return _read(ctx, integ)
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


@router.delete("/{integration_id}", response_model=IntegrationRead)
async def revoke_integration(
    integration_id: IdPath, who: Principal = Depends(admin), ctx: Context = Depends(get_context)
) -> IntegrationRead:
    def run() -> IntegrationRead:
        with ctx.db.write() as s:
            integ = service.revoke_integration(
                s, tenant_id=who.tenant_id, integration_id=integration_id, now=ctx.clock.now()
            )
            ctx.integrations.forget(integ.key)
            return _read(ctx, integ)
    return await run_in_threadpool(run)
