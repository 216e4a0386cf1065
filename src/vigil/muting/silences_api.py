from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import responder, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.http.bodies import JsonObjectRoute
from vigil.http.ids import IdPath
from vigil.muting import silences_service
from vigil.muting.models import Silence
from vigil.muting.schemas import SilenceCreate, SilenceRead

router = APIRouter(prefix="/api/v1/silences", tags=["silences"], route_class=JsonObjectRoute)


def _read(s: Silence, ctx: Context) -> SilenceRead:
    out = SilenceRead.model_validate(s)
    out.state = silences_service.state(s, ctx.clock.now())
    return out


@router.get("", response_model=list[SilenceRead])
async def list_silences(state: list[str] | None = Query(None, description="active, pending, "
                                                         "expired"),
                        who: Principal = Depends(viewer),
                        ctx: Context = Depends(get_context)) -> list[SilenceRead]:
    def run() -> list[SilenceRead]:
        with ctx.db.read() as s:
            return [_read(x, ctx) for x in silences_service.list_silences(
                s, tenant_id=who.tenant_id, now=ctx.clock.now(), states=state)]
    return await run_in_threadpool(run)


@router.post("", response_model=SilenceRead, status_code=201)
async def create_silence(body: SilenceCreate, who: Principal = Depends(responder),
                         ctx: Context = Depends(get_context)) -> SilenceRead:
    def run() -> SilenceRead:
        with ctx.db.write() as s:
            return _read(silences_service.create_silence(s, tenant_id=who.tenant_id, body=body,
                                                         actor=who.actor, now=ctx.clock.now()),
                         ctx)
    return await run_in_threadpool(run)


@router.delete("/{silence_id}", response_model=SilenceRead)
async def expire_silence(silence_id: IdPath, who: Principal = Depends(responder),
                         ctx: Context = Depends(get_context)) -> SilenceRead:
    def run() -> SilenceRead:
        with ctx.db.write() as s:
            return _read(silences_service.expire_silence(s, tenant_id=who.tenant_id,
                                                         silence_id=silence_id,
                                                         now=ctx.clock.now()), ctx)
    return await run_in_threadpool(run)
