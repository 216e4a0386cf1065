"""What the UI's pages share: template filters, safe links, the
not-found page and small lookups.

Pages only read. Every change goes through the JSON API from ``/static/ops.js`` with the
session cookie and the CSRF header, so the API's role checks apply to the UI as they do to
API keys; write forms are only shown to those roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.auth.models import User
from vigil.context import Context
from vigil.core.severity import Severity
from vigil.web.charts import duration
from vigil.web.render import Viewer, env, page

#: The en dash of time ranges, as in 09:00 (dash) 17:00.
DASH = "\u2013"
SEVERITIES = tuple(s.label for s in sorted(Severity, reverse=True))


def fmt_time(when: datetime | str | None) -> str:
    """``2026-03-01 12:00 UTC`` (an ISO string is parsed first)."""
    if when is None or when == "":
        return "—"
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(when: datetime | str | None) -> str:
    if when is None or isinstance(when, str):
        return when or ""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def safe_href(url: Any) -> str | None:
    """``url`` if it is an http(s) link, else None (no ``javascript:`` in an href)."""
    if not isinstance(url, str):
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def slug(name: str) -> str:
    """``name`` usable in an element id (no whitespace)."""
    return re.sub(r"\s+", "-", name.strip())


env.filters["ops_time"] = fmt_time
env.filters["ops_slug"] = slug
env.filters["ops_iso"] = iso
env.filters["ops_duration"] = duration
env.globals["safe_href"] = safe_href


def not_found(request: Request, who: Viewer, ctx: Context, message: str,
              back: tuple[str, str]) -> HTMLResponse:
    return page(request, "ops_error.html", who, ctx, status=404, message=message, back=back)


def user_names(session: Session, tenant_id: int) -> dict[str, str]:
    """username -> display name, for everyone of the tenant."""
    return {u: n for u, n in session.execute(
        select(User.username, User.name).where(User.tenant_id == tenant_id)
        .order_by(User.username))}
