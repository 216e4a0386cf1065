"""Sign-in through an OpenID Connect provider: ``GET /auth/oidc/login`` starts the
authorization code flow with PKCE, ``GET /auth/oidc/callback`` finishes it.

A person is found by the (issuer, subject) their user is linked to, else, at the first
sign-in, by the provider's verified email; with ``VIGIL_OIDC_CREATE_USERS`` a user is made
when none has it. Their role comes from the role claim when one is configured. The
session is made only by ``sign_in.signed_in``. Every refusal is a page with a 4xx
(502 when the provider cannot be reached), and every sign-in through the provider that
came back from it, made or refused, is in the audit log."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vigil.audit.service import record
from vigil.auth import oidc
from vigil.auth.models import User
from vigil.auth.oidc import Flow, OidcError
from vigil.auth.signing import existing_secret
from vigil.auth.signing import secret as app_secret
from vigil.config import Settings
from vigil.context import Context, get_context
from vigil.tenants.models import DEFAULT_TENANT_ID
from vigil.web.pages.sign_in import signed_in
from vigil.web.render import env, page

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
FLOW_COOKIE = "vigil_oidc_flow"
COOKIE_PATH = "/auth/oidc"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def button_label(request: Request) -> str | None:
    """The provider's name for the sign-in page's button, when OIDC is set up."""
    ctx = getattr(request.app.state, "ctx", None)
    settings: Settings | None = getattr(ctx, "settings", None)
    return settings.oidc_provider_name if settings and oidc.enabled(settings) else None


def password_form_shown(request: Request) -> bool:
    """Whether the sign-in page offers the password form (not when OIDC is the only way)."""
    ctx = getattr(request.app.state, "ctx", None)
    settings: Settings | None = getattr(ctx, "settings", None)
    return settings is None or password_sign_in_allowed(settings)


env.globals["oidc_button"] = button_label
env.globals["password_form_shown"] = password_form_shown


def password_sign_in_allowed(settings: Settings) -> bool:
    return settings.oidc_password_sign_in or not oidc.enabled(settings)


def _failed(request: Request, ctx: Context, error: OidcError) -> Response:
    resp = page(request, "oidc_error.html", None, ctx, status=error.status,
                message=error.message, provider=ctx.settings.oidc_provider_name)
    resp.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
    return resp


@router.get("/auth/oidc/login", response_class=HTMLResponse)
async def oidc_login(request: Request, next: str = "/ui",
                     ctx: Context = Depends(get_context)) -> Response:
    settings = ctx.settings
    if not oidc.enabled(settings):
        return _failed(request, ctx, OidcError(
            404, "Sign-in through an identity provider is not set up here.",
            reason="not_configured"))

    def run() -> tuple[str, str]:
        flow = oidc.new_flow(next, ctx.clock.now())
        url = oidc.authorization_url(settings, flow)
        with ctx.db.write() as s:
            key = app_secret(s)
        return url, oidc.seal(flow, key, settings)

    try:
        url, sealed = await run_in_threadpool(run)
    except OidcError as error:
        log.warning("OIDC sign-in could not start: %s", error.message)
        return _failed(request, ctx, error)
    resp = RedirectResponse(url, status_code=303)
    resp.set_cookie(FLOW_COOKIE, sealed, max_age=int(oidc.FLOW_LIFETIME.total_seconds()),
                    httponly=True, samesite="lax", secure=request.url.scheme == "https",
                    path=COOKIE_PATH)
    return resp


@router.get("/auth/oidc/callback", response_class=HTMLResponse)
async def oidc_callback(request: Request, ctx: Context = Depends(get_context)) -> Response:
    settings = ctx.settings
    params = request.query_params
    address = request.client.host if request.client else None
    seen: dict[str, Any] = {}  # what is known of the person so far, for the audit log

    def run() -> tuple[User, str]:
        if not oidc.enabled(settings):
            raise OidcError(404, "Sign-in through an identity provider is not set up here.",
                            reason="not_configured")
        now = ctx.clock.now()
        with ctx.db.read() as s:
            key = existing_secret(s)
        flow = oidc.unseal(request.cookies.get(FLOW_COOKIE), key, settings, now)
        if flow is None:
            raise OidcError(400, "This sign-in has expired or was started in another "
                            "browser. Please start again.", reason="no_flow")
        seen["flow"] = True
        _check_response(settings, flow, params)
        token = oidc.exchange(settings, params.get("code", ""), flow)
        claims = oidc.identity(settings, token, flow, ctx.clock.now())
        seen.update(subject=str(claims["sub"]), email=claims.get(settings.oidc_email_claim))
        return _sign_in(ctx, claims, address, seen), flow.to

    try:
        user, to = await run_in_threadpool(run)
    except OidcError as error:
        log.warning("OIDC sign-in refused (%s): %s", error.reason, error.message)
        if seen.get("flow"):  # only a flow this browser began here is worth a row
            await run_in_threadpool(_record_failure, ctx, error, seen, address)
        return _failed(request, ctx, error)
    resp = await run_in_threadpool(lambda: signed_in(
        ctx, user, to, request.url.scheme == "https", request=request))
    resp.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
    return resp


def _check_response(settings: Settings, flow: Flow, params: Any) -> None:
    """The provider's answer belongs to this browser's flow, from this provider, and
    carries a code."""
    state = str(params.get("state", ""))
    if not secrets.compare_digest(state.encode(), flow.state.encode()):
        raise OidcError(400, "The sign-in's state does not match the one this browser "
                        "started. Please start again.", reason="bad_state")
    issuer = params.get("iss")  # RFC 9207, where the provider sends it
    if issuer is not None and issuer.rstrip("/") != settings.oidc_issuer.rstrip("/"):
        raise OidcError(400, "The answer came from another identity provider.",
                        reason="wrong_issuer")
    error = params.get("error")
    if error:
        detail = str(params.get("error_description") or error)[:200]
        if error in ("access_denied", "consent_required", "interaction_required",
                     "login_required"):
            raise OidcError(403, f"The identity provider did not sign you in: {detail}.",
                            reason="denied")
        raise OidcError(400, f"The identity provider answered with an error: {detail}.",
                        reason="provider_refused")
    if not params.get("code"):
        raise OidcError(400, "The identity provider's answer has no code.", reason="no_code")


def _sign_in(ctx: Context, claims: dict[str, Any], address: str | None,
             seen: dict[str, Any]) -> User:
    """The user these verified claims sign in as, linked and with their role, in one
    transaction with its audit entry."""
    settings = ctx.settings
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    now = ctx.clock.now()
    try:
        with ctx.db.write() as s:
            user = s.scalars(select(User).where(
                User.tenant_id == DEFAULT_TENANT_ID, User.oidc_issuer == issuer,
                User.oidc_subject == subject)).first()
            if user is None:
                user = _by_email(s, settings, claims, issuer)
            if user is not None:
                seen["username"] = user.username
            role = oidc.role_for(settings, claims, user.role if user else None)
            if role is None:
                raise OidcError(403, "Your account at the identity provider has no role "
                                "in Vigil (no group or role that Vigil maps).",
                                reason="no_role")
            before: dict[str, Any] | None = None
            if user is None:
                user = _create(s, settings, claims, role, now)
                seen["username"] = user.username
            else:
                before = {"role": user.role, "oidc_subject": user.oidc_subject}
                if (user.role, user.oidc_issuer, user.oidc_subject) != (role, issuer, subject):
                    user.role, user.updated_at = role, now
                    user.oidc_issuer, user.oidc_subject = issuer, subject
            s.flush()
            # signed_in records the session's "sign_in"; this says how and what changed.
            record(s, tenant_id=DEFAULT_TENANT_ID, actor=f"user:{user.username}",
                   action="sign_in_oidc", target=f"user:{user.username}", before=before,
                   after={"method": "oidc", "role": user.role, "oidc_subject": subject,
                          "created": before is None}, now=now, address=address)
            s.expunge(user)  # used after this session ends
            return user
    except IntegrityError as exc:  # the same person's other sign-in linked them first
        raise OidcError(409, "Another sign-in of this account was under way. Please try "
                        "again.", reason="conflict") from exc


def _by_email(s: Session, settings: Settings, claims: dict[str, Any],
              issuer: str) -> User | None:
    email = oidc.verified_email(settings, claims)
    if email is None:
        raise OidcError(403, "The identity provider did not give a verified email address, "
                        "which Vigil needs to find your user.", reason="no_verified_email")
    found = s.scalars(select(User).where(User.tenant_id == DEFAULT_TENANT_ID,
                                         func.lower(User.email) == email)
                      .order_by(User.id).limit(2)).all()
    if len(found) > 1:
        raise OidcError(403, f"Several Vigil users have the email {email}; an administrator "
                        "must make it unique.", reason="ambiguous_email")
    if not found:
        if not settings.oidc_create_users:
            raise OidcError(403, f"No Vigil user has the email {email}. Ask an administrator "
                            "to add you.", reason="unknown_email")
        return None
    # Linked to another subject of this provider: refused. A link to a provider that is no
    # longer configured is replaced (a move to a new provider keeps everyone's user).
    if found[0].oidc_subject is not None and found[0].oidc_issuer == issuer:
        raise OidcError(403, f"The Vigil user with the email {email} signs in as another "
                        "identity.", reason="linked_elsewhere")
    return found[0]


def _create(s: Session, settings: Settings, claims: dict[str, Any], role: str,
            now: Any) -> User:
    email = oidc.verified_email(settings, claims) or ""
    username = _free_username(s, claims, email)
    name = claims.get("name")
    user = User(tenant_id=DEFAULT_TENANT_ID, username=username,
                name=name[:200] if isinstance(name, str) and name.strip() else username,
                email=email, time_zone="UTC", role=role, password_hash=None,
                ical_token=secrets.token_urlsafe(24), oidc_issuer=str(claims["iss"]),
                oidc_subject=str(claims["sub"]), created_at=now, updated_at=now)
    s.add(user)
    return user


def _free_username(s: Session, claims: dict[str, Any], email: str) -> str:
    """A username no one has: the provider's preferred_username, else the email's local
    part, made to fit Vigil's rule (lowercase letters, digits, dot, dash, underscore)."""
    wanted = claims.get("preferred_username")
    base = wanted.strip().lower() if isinstance(wanted, str) else ""
    if not _USERNAME.match(base):
        base = re.sub(r"[^a-z0-9._-]+", "-", email.partition("@")[0].lower()).strip(".-_")
    base = base[:90] or "user"
    for n in range(1, 100):
        candidate = base if n == 1 else f"{base}-{n}"
        if s.scalar(select(User.id).where(User.tenant_id == DEFAULT_TENANT_ID,
                                          User.username == candidate)) is None:
            return candidate
    return f"{base}-{secrets.token_hex(4)}"


def _record_failure(ctx: Context, error: OidcError, seen: dict[str, Any],
                    address: str | None) -> None:
    who = seen.get("username") or seen.get("email") or seen.get("subject") or "unknown"
    email = seen.get("email")
    with ctx.db.write() as s:
        record(s, tenant_id=DEFAULT_TENANT_ID, actor=f"oidc:{seen.get('subject', 'unknown')}",
               action="sign_in_failed", target=f"user:{who}", before=None,
               after={"method": "oidc", "reason": error.reason,
                      "email": email if isinstance(email, str) else None},
               now=ctx.clock.now(), address=address)
