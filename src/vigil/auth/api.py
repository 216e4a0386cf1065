from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from vigil.auth import service
from vigil.auth.deps import admin
from vigil.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.ids import IdPath

router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])


@router.get("", response_model=list[ApiKeyRead])
async def list_keys(
    who: Principal = Depends(admin), ctx: Context = Depends(get_context)
) -> list[ApiKeyRead]:
    def run() -> list[ApiKeyRead]:
        with ctx.db.read() as s:
            return [ApiKeyRead.model_validate(k)
                    for k in service.list_api_keys(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post("", response_model=ApiKeyCreated, status_code=201)
async def create_key(
    body: ApiKeyCreate, who: Principal = Depends(admin), ctx: Context = Depends(get_context)
) -> ApiKeyCreated:
    def run() -> ApiKeyCreated:
        with ctx.db.write() as s:
            key, raw = service.create_api_key(
                s, tenant_id=who.tenant_id, name=body.name, role=body.role, now=ctx.clock.now()
            )
            return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=raw)
    return await run_in_threadpool(run)


@router.delete("/{key_id}", response_model=ApiKeyRead)
async def revoke_key(
    key_id: IdPath, who: Principal = Depends(admin), ctx: Context = Depends(get_context)
) -> ApiKeyRead:
    def run() -> ApiKeyRead:
        with ctx.db.write() as s:
            key = service.revoke_api_key(s, tenant_id=who.tenant_id, key_id=key_id,
                                         now=ctx.clock.now())
            return ApiKeyRead.model_validate(key)
    return await run_in_threadpool(run)
