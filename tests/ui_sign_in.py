"""Signing in to the web UI through its form, as a browser does."""

from __future__ import annotations

import re

from conftest import Harness
from ui_session import PASSWORD, add_user


def sign_in(h: Harness, username: str = "alice", role: str = "responder") -> str:
    """Create the user, sign in through the form; answers the session's CSRF token."""
    add_user(h, username, role)
    resp = h.client.post("/login", data={"username": username, "password": PASSWORD,
                                         "next": "/ui/incidents"}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == "/ui/incidents"
    page = h.client.get("/ui/incidents")
    assert page.status_code == 200, page.text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found
    return found.group(1)
