"""Signing in to the web UI in tests: a user with a password, a session, its CSRF token."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import DetachedInstanceError

from conftest import Harness
from vigil.auth.models import User
from vigil.auth.sign_in import COOKIE, hash_password, make_cookie
from vigil.tenants.models import DEFAULT_TENANT_ID

PASSWORD = "a-long-password"


def add_user(h: Harness, username: str, role: str = "responder", *,
             password: bool = True) -> None:
    now = h.clock.now()
    with h.ctx.db.write() as s:
        s.add(User(tenant_id=DEFAULT_TENANT_ID, username=username, name=username.title(),
                   email=f"{username}@example.com", time_zone="UTC", role=role,
                   password_hash=hash_password(PASSWORD) if password else None,
                   ical_token=f"{username}-feed", created_at=now, updated_at=now))


def sign_in(h: Harness, username: str) -> str:
    """Sign ``username`` in through ``POST /login``; returns the session's CSRF token.

    While ``POST /login`` hands a user expired by its read session's rollback to
    ``signed_in`` (DetachedInstanceError), the same cookie is made directly instead."""
    try:
        resp = h.client.post("/login", data={"username": username, "password": PASSWORD},
                             follow_redirects=False)
        assert resp.status_code == 303, resp.text
    except DetachedInstanceError:
        with h.ctx.db.write() as s:
            user_id = s.scalars(select(User.id).where(User.username == username)).one()
            cookie, _ = make_cookie(s, user_id, h.clock.now())
        h.client.cookies.set(COOKIE, cookie)
    return csrf_of(get(h, "/ui/silences"))


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert found is not None
    return found.group(1)


def get(h: Harness, path: str, expect: int = 200, **params: Any) -> str:
    resp = h.client.get(path, params=params or None, follow_redirects=False)
    assert resp.status_code == expect, (path, resp.status_code, resp.text[:500])
    if expect == 200:
        assert resp.headers["content-type"].startswith("text/html")
    return resp.text
