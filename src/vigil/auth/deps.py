"""Route dependencies: who is calling, and may they."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from vigil.audit.capture import set_request_actor
from vigil.auth.service import Principal, authenticate
from vigil.context import Context, get_context
from vigil.errors import Forbidden, Unauthorized


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_principal(ctx: Context, request: Request) -> Principal | None:
    """The person signed in to the web UI, if the session cookie names a live session
    (one indexed lookup; ``last_seen_at`` is written at most every few minutes). A request
    that changes something must also carry the session's CSRF token (``X-CSRF-Token``
    header or ``csrf`` form field, checked by the caller for forms)."""
    from vigil.auth.sign_in import COOKIE, read_cookie, touch

    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    now = ctx.clock.now()
    with ctx.db.read() as session:
        data = read_cookie(session, raw, now)
        if data is None:
            return None
        from vigil.auth.models import User
        user = session.get(User, data.user_id)  # loaded by read_cookie's lookup
        if user is None:
            return None
        if request.method not in SAFE_METHODS and \
                request.headers.get("x-csrf-token") != data.csrf and \
                request.scope.get("vigil_csrf_ok") is not True:
            raise Forbidden("missing or wrong CSRF token", field="X-CSRF-Token")
        who = Principal(user.tenant_id, None, user.username, user.role, user_id=user.id,
                        session_id=data.id)
    touch(ctx.db, data, now)
    return who


def require(role: str) -> Callable[..., object]:
    async def dependency(request: Request, ctx: Context = Depends(get_context)) -> Principal:
        raw = bearer(request)
        if raw is None:
            person = await run_in_threadpool(session_principal, ctx, request)
            if person is None:
                raise Unauthorized("an API key is required: Authorization: Bearer <key>",
                                   field="Authorization")
            if not person.can(role):
                raise Forbidden(f"this needs the {role} role; you have {person.role}")
            set_request_actor(person.actor, request, ctx.clock)  # for the audit log
            return person

        def check() -> Principal | None:
            with ctx.db.read() as session:
                return authenticate(session, raw=raw)

        principal = await run_in_threadpool(check)
        if principal is None:
            raise Unauthorized("unknown or revoked API key", field="Authorization")
        if not principal.can(role):
            raise Forbidden(f"this needs the {role} role; the key has {principal.role}")
        set_request_actor(principal.actor, request, ctx.clock)  # for the audit log
        return principal

    return dependency


viewer = require("viewer")
responder = require("responder")
admin = require("admin")
