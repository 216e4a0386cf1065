"""Rendering pages: one Jinja2 environment (autoescaped), the common context (who is
signed in, their CSRF token, the navigation), and page-level auth that redirects to the
sign-in page instead of answering 401."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from vigil import __version__
from vigil.auth.models import User
from vigil.auth.service import ROLES
from vigil.auth.sign_in import COOKIE, read_cookie, touch
from vigil.context import Context, get_context
from vigil.core.severity import SEVERITY_LABELS

env = Environment(loader=PackageLoader("vigil.web", "templates"),
                  autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
env.globals["version"] = __version__
env.globals["severity_name"] = lambda n: SEVERITY_LABELS.get(int(n), str(n))

NAV = (("Dashboard", "/ui"), ("Incidents", "/ui/incidents"), ("Alerts", "/ui/alerts"),
       ("On-call", "/ui/oncall"), ("Escalation", "/ui/escalation-policies"),
       ("Services", "/ui/services"), ("Teams", "/ui/teams"), ("Users", "/ui/users"),
       ("Integrations", "/ui/integrations"), ("Silences", "/ui/silences"))


def ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "—"
    s = int((now - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(s) >= size:
            return f"{s // size}{unit} ago"
    return f"{max(s, 0)}s ago"


env.filters["ago"] = ago


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as pages see them."""

    id: int
    tenant_id: int
    username: str
    name: str
    role: str
    csrf: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def actor(self) -> str:
        return f"user:{self.username}"


class SignIn(Exception):
    """Raised by page dependencies; answered with a redirect to the sign-in page."""

    def __init__(self, to: str) -> None:
        self.to = to


def viewer_of(ctx: Context, request: Request) -> Viewer | None:
    now = ctx.clock.now()
    with ctx.db.read() as s:
        data = read_cookie(s, request.cookies.get(COOKIE), now)
        if data is None:
            return None
        user = s.get(User, data.user_id)
        if user is None:
            return None
        who = Viewer(user.id, user.tenant_id, user.username, user.name, user.role, data.csrf)
    touch(ctx.db, data, now)  # the session's idle clock, written every few minutes at most
    return who


def signed_in(role: str = "viewer") -> Callable[..., Coroutine[Any, Any, Viewer]]:
    async def dependency(request: Request, ctx: Context = Depends(get_context)) -> Viewer:
        who = await run_in_threadpool(viewer_of, ctx, request)
        if who is None:
            setup = await run_in_threadpool(needs_setup, ctx)
            raise SignIn("/setup" if setup else f"/login?next={request.url.path}")
        if not who.can(role):
            from vigil.errors import Forbidden
            raise Forbidden(f"this page needs the {role} role; you have {who.role}")
        return who
    return dependency


def needs_setup(ctx: Context) -> bool:
    """First run: nobody can sign in yet (with OpenID Connect set up, people can)."""
    if ctx.settings.oidc_issuer and ctx.settings.oidc_client_id:
        return False
    with ctx.db.read() as s:
        return not s.scalar(select(func.count()).select_from(User).where(
            User.password_hash.is_not(None)))


def page(request: Request, template: str, who: Viewer | None, ctx: Context,
         status: int = 200, **values: Any) -> HTMLResponse:
    # Admins see when paging is degraded (the health monitor's latest report).
    report = ctx.liveness.report
    degraded = report.reasons if who is not None and who.can("admin") else ()
    html = env.get_template(template).render(
        request=request, who=who, nav=NAV, path=request.url.path, now=ctx.clock.now(),
        degraded=degraded, **values)
    return HTMLResponse(html, status_code=status)


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)
