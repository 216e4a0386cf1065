"""Sign in, sign out, and the first-run page that creates the first administrator."""

from __future__ import annotations

import re
import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from vigil.context import Context, get_context
from vigil.oncall.models import User
from vigil.tenants.models import DEFAULT_TENANT_ID
from vigil.web.render import needs_setup, page, redirect, viewer_of
from vigil.web.session import COOKIE, LIFETIME, check_password, hash_password, make_cookie

router = APIRouter(include_in_schema=False)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def signed_in(ctx: Context, user: User, to: str, secure: bool) -> Response:
    with ctx.db.write() as s:
        cookie, _ = make_cookie(s, user.id, ctx.clock.now())
    resp = RedirectResponse(to if to.startswith("/") and not to.startswith("//") else "/ui",
                            status_code=303)
    resp.set_cookie(COOKIE, cookie, max_age=int(LIFETIME.total_seconds()), httponly=True,
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


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, username: str = Form(""), password: str = Form(""),
                next: str = Form("/ui"), ctx: Context = Depends(get_context)) -> Response:
    if ctx.settings.oidc_issuer and not ctx.settings.oidc_password_sign_in:  # OIDC only
        return page(request, "login.html", None, ctx, status=403, next=next, error="Password "
                    f"sign-in is off: sign in with {ctx.settings.oidc_provider_name}.")
    def run() -> User | None:
        with ctx.db.read() as s:
            user = s.scalars(select(User).where(User.tenant_id == DEFAULT_TENANT_ID,
                                                User.username == username.strip().lower())
                             ).first()
            ok = check_password(user.password_hash if user else None, password)
            if user is not None:
                s.expunge(user)  # used after this read session ends
            return user if ok else None

    user = await run_in_threadpool(run)
    if user is None:
        return page(request, "login.html", None, ctx, status=401, next=next,
                    error="Wrong username or password.")
    return await run_in_threadpool(signed_in, ctx, user, next,
                                   request.url.scheme == "https")


@router.post("/logout")
async def logout(request: Request, ctx: Context = Depends(get_context)) -> Response:
    who = await run_in_threadpool(viewer_of, ctx, request)
    form = await request.form()
    if who is not None and secrets.compare_digest(str(form.get("csrf", "")), who.csrf):
        resp = redirect("/login")
        resp.delete_cookie(COOKIE, path="/")
        return resp
    return redirect("/ui")


@router.get("/setup", response_class=HTMLResponse)
async def setup_form(request: Request, ctx: Context = Depends(get_context)) -> Response:
    if not await run_in_threadpool(needs_setup, ctx):
        return redirect("/login")
    return page(request, "setup.html", None, ctx, error=None, values={})


@router.post("/setup", response_class=HTMLResponse)
async def setup(request: Request, username: str = Form(""), name: str = Form(""),
                email: str = Form(""), password: str = Form(""),
                ctx: Context = Depends(get_context)) -> Response:
    """Create the first administrator (only while nobody can sign in)."""
    values = {"username": username, "name": name, "email": email}
    username = username.strip().lower()
    error = None
    if not _USERNAME.match(username):
        error = "Username: lowercase letters, digits, dot, dash or underscore."
    elif "@" not in email:
        error = "Email: an address is needed."
    elif len(password) < 10:
        error = "Password: at least 10 characters."
    if error:
        return page(request, "setup.html", None, ctx, status=422, error=error, values=values)

    def run() -> User | None:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            if s.scalars(select(User.id).where(User.password_hash.is_not(None))).first():
                return None  # someone finished setup first
            user = s.scalars(select(User).where(User.tenant_id == DEFAULT_TENANT_ID,
                                                User.username == username)).first()
            if user is None:
                user = User(tenant_id=DEFAULT_TENANT_ID, username=username, name=name or username,
                            email=email, time_zone="UTC", role="admin",
                            ical_token=secrets.token_urlsafe(24), created_at=now,
                            updated_at=now)
                s.add(user)
            user.role, user.password_hash = "admin", hash_password(password)
            s.flush()
            s.expunge(user)
            return user

    user = await run_in_threadpool(run)
    if user is None:
        return redirect("/login")
    return await run_in_threadpool(signed_in, ctx, user, "/ui", request.url.scheme == "https")
