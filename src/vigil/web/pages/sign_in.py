"""Sign in, sign out, and the first-run page that creates the first administrator.

Sessions are rows (``vigil.auth.sessions``): signing out revokes the cookie's session.
``POST /login`` is rate-limited per username and per address (``vigil.auth.sign_in_limits``):
429 with Retry-After while locked. ``/setup`` needs the one-time setup token
(``vigil.auth.setup_token``) or an admin API key."""

from __future__ import annotations

import math
import re
import secrets
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from vigil.auth import sessions, setup_token, sign_in_limits
from vigil.auth.deps import bearer
from vigil.auth.models import User
from vigil.auth.service import authenticate
from vigil.auth.sign_in import COOKIE, LIFETIME, check_password, hash_password
from vigil.context import Context, get_context
from vigil.tenants.models import DEFAULT_TENANT_ID
from vigil.web.render import needs_setup, page, redirect

router = APIRouter(include_in_schema=False)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_SETUP_TOKEN_NEEDED = ("A valid setup token is needed: open the /setup?token=… link that "
                       "vigil serve printed when it started, or run `vigil setup-token` on "
                       "the server for a new one.")


def address_of(request: Request | None) -> str | None:
    return request.client.host if request is not None and request.client else None


def signed_in(ctx: Context, user: User, to: str, secure: bool, *,
              request: Request | None = None) -> Response:
    """Start a session for ``user`` (already authenticated by the caller) and answer the
    redirect to ``to`` that sets its cookie. The one way any sign-in makes a session;
    pass ``request`` to record the client's address and user agent."""
    now = ctx.clock.now()
    address = address_of(request)
    agent = request.headers.get("user-agent") if request is not None else None
    with ctx.db.write() as s:
        person = s.get(User, user.id)
        if person is None:
            return redirect("/login")
        row, raw = sessions.create(s, user=person, now=now, address=address, user_agent=agent)
        sign_in_limits.reset_user(s, username=person.username)
        sessions.audit(s, tenant_id=person.tenant_id, actor=f"user:{person.username}",
                       action="sign_in", target=f"user:{person.username}",
                       after={"session": row.id}, now=now, address=address)
    resp = RedirectResponse(to if to.startswith("/") and not to.startswith("//") else "/ui",
                            status_code=303)
    resp.set_cookie(COOKIE, raw, max_age=int(LIFETIME.total_seconds()), httponly=True,
                    samesite="lax", secure=secure, path="/")
    return resp


@router.get("/", response_class=HTMLResponse)
async def home() -> Response:
    return redirect("/ui")


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/ui",
                     ctx: Context = Depends(get_context)) -> Response:
    if await run_in_threadpool(needs_setup, ctx):
        return redirect("/setup")
    return page(request, "login.html", None, ctx, next=next, error=None)


def _wait_text(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def _too_many(request: Request, ctx: Context, next: str, wait: timedelta) -> Response:
    resp = page(request, "login.html", None, ctx, status=429, next=next,
                error=f"Too many failed sign-ins. Try again in {_wait_text(wait)}.")
    resp.headers["Retry-After"] = str(max(1, math.ceil(wait.total_seconds())))
    return resp


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, username: str = Form(""), password: str = Form(""),
                next: str = Form("/ui"), ctx: Context = Depends(get_context)) -> Response:
    if ctx.settings.oidc_issuer and not ctx.settings.oidc_password_sign_in:  # OIDC only
        return page(request, "login.html", None, ctx, status=403, next=next, error="Password "
                    f"sign-in is off: sign in with {ctx.settings.oidc_provider_name}.")
    name = username.strip().lower()
    address = address_of(request)

    def begin() -> sign_in_limits.Attempt:
        with ctx.db.write() as s:
            return sign_in_limits.begin(s, username=name, address=address,
                                        now=ctx.clock.now())

    attempt = await run_in_threadpool(begin)
    if attempt.refused is not None:
        return _too_many(request, ctx, next, attempt.refused)

    def check() -> User | None:
        with ctx.db.read() as s:
            user = s.scalars(select(User).where(User.tenant_id == DEFAULT_TENANT_ID,
                                                User.username == name)).first()
            ok = check_password(user.password_hash if user else None, password)
            if user is not None:
                s.expunge(user)  # used after this read session ends
            return user if ok else None

    user = await run_in_threadpool(check)

    def finish() -> None:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            if user is not None:
                sign_in_limits.succeeded(s, username=name, address=address, now=now)
                return
            locked = attempt.locks_for
            sessions.audit(s, tenant_id=DEFAULT_TENANT_ID, actor="anonymous",
                           action="sign_in_failed", target=f"user:{name[:200]}",
                           after={"locked_seconds": int(locked.total_seconds())}
                           if locked else None, now=now, address=address)

    await run_in_threadpool(finish)
    if user is None:
        if attempt.locks_for is not None:
            return _too_many(request, ctx, next, attempt.locks_for)
        return page(request, "login.html", None, ctx, status=401, next=next,
                    error="Wrong username or password.")
    return await run_in_threadpool(
        lambda: signed_in(ctx, user, next, request.url.scheme == "https", request=request))


@router.post("/logout")
async def logout(request: Request, ctx: Context = Depends(get_context)) -> Response:
    raw = request.cookies.get(COOKIE)
    form = await request.form()
    csrf = str(form.get("csrf", ""))

    def run() -> bool:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            live = sessions.lookup(s, raw, now)
            if live is None or not secrets.compare_digest(csrf, live.csrf):
                return False
            sessions.revoke_token(s, raw=raw, now=now)
            sessions.audit(s, tenant_id=live.user.tenant_id,
                           actor=f"user:{live.user.username}", action="sign_out",
                           target=f"session:{live.id}", now=now,
                           address=address_of(request))
            return True

    if await run_in_threadpool(run):
        resp = redirect("/login")
        resp.delete_cookie(COOKIE, path="/")
        return resp
    return redirect("/ui")


def _setup_page(request: Request, ctx: Context, *, status: int = 200, error: str | None,
                token: str, token_ok: bool, values: dict[str, Any]) -> Response:
    return page(request, "setup.html", None, ctx, status=status, error=error, token=token,
                token_ok=token_ok, values=values)


@router.get("/setup", response_class=HTMLResponse)
async def setup_form(request: Request, token: str = "",
                     ctx: Context = Depends(get_context)) -> Response:
    if not await run_in_threadpool(needs_setup, ctx):
        return redirect("/login")

    def check() -> bool:
        with ctx.db.read() as s:
            return setup_token.valid(s, token)

    ok = await run_in_threadpool(check)
    if token and not ok:
        return _setup_page(request, ctx, status=403, error=_SETUP_TOKEN_NEEDED, token="",
                           token_ok=False, values={})
    return _setup_page(request, ctx, error=None, token=token, token_ok=ok, values={})


@router.post("/setup", response_class=HTMLResponse)
async def setup(request: Request, username: str = Form(""), name: str = Form(""),
                email: str = Form(""), password: str = Form(""), token: str = Form(""),
                ctx: Context = Depends(get_context)) -> Response:
    """Create the first administrator (only while nobody can sign in), with the setup
    token or an admin API key (``Authorization: Bearer``)."""
    values = {"username": username, "name": name, "email": email}
    key = bearer(request)

    if not await run_in_threadpool(needs_setup, ctx):
        return redirect("/login")

    def authorize() -> str | None:
        with ctx.db.read() as s:
            if key is not None:
                who = authenticate(s, raw=key)
                return who.actor if who is not None and who.can("admin") else None
            return "setup-token" if setup_token.valid(s, token) else None

    actor = await run_in_threadpool(authorize)
    if actor is None:
        return _setup_page(request, ctx, status=403, error=_SETUP_TOKEN_NEEDED, token="",
                           token_ok=False, values=values)
    username = username.strip().lower()
    error = None
    if not _USERNAME.match(username):
        error = "Username: lowercase letters, digits, dot, dash or underscore."
    elif "@" not in email:
        error = "Email: an address is needed."
    elif len(password) < 10:
        error = "Password: at least 10 characters."
    if error:
        return _setup_page(request, ctx, status=422, error=error, token=token,
                           token_ok=actor == "setup-token", values=values)

    def run() -> User | str:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            if not setup_token.needed(s):
                return "done"  # someone finished setup first
            if actor == "setup-token":
                if not setup_token.consume(s, token):
                    return "token"
            else:
                setup_token.forget(s)
            user = s.scalars(select(User).where(User.tenant_id == DEFAULT_TENANT_ID,
                                                User.username == username)).first()
            before = None if user is None else {"role": user.role}
            if user is None:
                user = User(tenant_id=DEFAULT_TENANT_ID, username=username, name=name or username,
                            email=email, time_zone="UTC", role="admin",
                            ical_token=secrets.token_urlsafe(24), created_at=now,
                            updated_at=now)
                s.add(user)
            user.role, user.password_hash = "admin", hash_password(password)
            s.flush()
            sessions.audit(s, tenant_id=DEFAULT_TENANT_ID, actor=str(actor), action="setup",
                           target=f"user:{username}", before=before,
                           after={"role": "admin", "email": user.email},
                           now=now, address=address_of(request))
            s.expunge(user)
            return user

    user = await run_in_threadpool(run)
    if user == "done":
        return redirect("/login")
    if not isinstance(user, User):
        return _setup_page(request, ctx, status=403, error=_SETUP_TOKEN_NEEDED, token="",
                           token_ok=False, values=values)
    return await run_in_threadpool(
        lambda: signed_in(ctx, user, "/ui", request.url.scheme == "https", request=request))
