"""``/api/v1/assignment-rules`` and ``/api/v1/severity-rules``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Response
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import admin, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.http.bodies import JsonObjectRoute
from vigil.http.ids import IdPath
from vigil.incidents import policy_service as svc

router = APIRouter(tags=["assignment and severity rules"], route_class=JsonObjectRoute)
_EXAMPLES = {
    "assignment": {"name": "databases to the DBAs", "categories": ["database"],
                   "team": "dba", "escalation_policy": "dba-primary"},
    "severity": {"name": "warning becomes high", "from_severity": "warning",
                 "to_severity": "high", "after_minutes": 15, "after_occurrences": 10},
}


def _routes(kind: str, path: str) -> None:
    async def list_(who: Principal = Depends(viewer),
                    ctx: Context = Depends(get_context)) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            with ctx.db.read() as s:
                return [svc.read(r) for r in svc.list_rows(s, tenant_id=who.tenant_id,
                                                           kind=kind)]
        return await run_in_threadpool(run)

    async def create(body: dict[str, Any] = Body(examples=[_EXAMPLES[kind]]),
                     who: Principal = Depends(admin),
                     ctx: Context = Depends(get_context)) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with ctx.db.write() as s:
                row, _ = svc.upsert(s, tenant_id=who.tenant_id, kind=kind, data=body,
                                    now=ctx.clock.now(), create_only=True)
                return svc.read(row)
        return await run_in_threadpool(run)

    async def replace(policy_id: IdPath, body: dict[str, Any] = Body(),
                      who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with ctx.db.write() as s:
                row, _ = svc.upsert(s, tenant_id=who.tenant_id, kind=kind, data=body,
                                    now=ctx.clock.now(), policy_id=policy_id)
                s.flush()
                return svc.read(row)
        return await run_in_threadpool(run)

    async def delete(policy_id: IdPath, who: Principal = Depends(admin),
                     ctx: Context = Depends(get_context)) -> Response:
        def run() -> None:
            with ctx.db.write() as s:
                svc.delete(s, tenant_id=who.tenant_id, kind=kind, policy_id=policy_id)
        await run_in_threadpool(run)
        return Response(status_code=204)

    for fn, name in ((list_, "list"), (create, "create"), (replace, "replace"),
                     (delete, "delete")):
        fn.__name__ = f"{name}_{kind}_rules"
    router.get(path)(list_)
    router.post(path, status_code=201)(create)
    router.put(path + "/{policy_id}")(replace)
    router.delete(path + "/{policy_id}", status_code=204)(delete)


_routes("assignment", "/api/v1/assignment-rules")
_routes("severity", "/api/v1/severity-rules")
