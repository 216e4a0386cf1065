"""Route dependencies: who is calling, and may they."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from vigil.auth.service import Principal, authenticate
from vigil.context import Context, get_context
from vigil.errors import Forbidden, Unauthorized


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def require(role: str) -> Callable[..., object]:
    async def dependency(request: Request, ctx: Context = Depends(get_context)) -> Principal:
        raw = bearer(request)
        if raw is None:
            raise Unauthorized("an API key is required: Authorization: Bearer <key>",
                               field="Authorization")

        def check() -> Principal | None:
            with ctx.db.read() as session:
                return authenticate(session, raw=raw)

        principal = await run_in_threadpool(check)
        if principal is None:
            raise Unauthorized("unknown or revoked API key", field="Authorization")
        if not principal.can(role):
            raise Forbidden(f"this needs the {role} role; the key has {principal.role}")
        return principal

    return dependency


viewer = require("viewer")
responder = require("responder")
admin = require("admin")
