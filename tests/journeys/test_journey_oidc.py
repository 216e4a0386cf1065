"""Journey: a team signs in to a real ``vigil serve`` through their identity provider (a
real OpenID Connect provider on 127.0.0.1). The admin adds alice by email with the API key
of the first-run banner; alice opens the sign-in page, takes the provider's button, signs
in and consents there, and lands in Vigil as a responder (her "oncall" group); erin, whom
nobody added, is turned away with a 403 and is not created; a forged answer to the
callback is a 400. Passwords are off: the provider is the only way in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from oidc_peer import Provider, provider, through_provider
from server import Server, free_port, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def node(journey_db: str, tmp_path: Path) -> Iterator[tuple[Server, Provider]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with provider(tmp_path, {"vigil": [f"{url}/auth/oidc/callback"]}) as idp:
        env = {f"VIGIL_{k.upper()}": str(v) for k, v in idp.settings(
            oidc_role_claim="groups", oidc_admin_values="vigil-admins",
            oidc_responder_values="oncall", oidc_default_role="deny",
            oidc_password_sign_in="false").items()}
        server = start_server(journey_db, tmp_path, port=port,
                              env={**env, "VIGIL_PUBLIC_URL": url}, timeout=90)
        try:
            yield server, idp
        finally:
            server.kill()


def _browser_signs_in(vigil: httpx.Client, login: str) -> httpx.Response:
    page = vigil.get("/login")
    assert page.status_code == 200, page.text  # no first-run redirect: the provider lets in
    assert "Sign in with Test IdP" in page.text
    start = vigil.get("/auth/oidc/login", params={"next": "/ui/incidents"})
    assert start.status_code == 303, start.text
    with httpx.Client(timeout=15) as at_provider:
        back = through_provider(at_provider, start.headers["location"], login)
    assert back.startswith(f"{str(vigil.base_url).rstrip('/')}/auth/oidc/callback?")
    return vigil.get(back)


def test_a_person_signs_in_through_the_identity_provider(
        node: tuple[Server, Provider]) -> None:
    server, _ = node
    assert server.api_key
    admin = httpx.Client(base_url=server.url, timeout=15,
                         headers={"Authorization": f"Bearer {server.api_key}"})
    made = admin.post("/api/v1/users", json={"username": "alice", "name": "Alice",
                                             "email": "alice@example.com", "role": "viewer"})
    assert made.status_code == 201, made.text

    with httpx.Client(base_url=server.url, timeout=15) as alice:
        landed = _browser_signs_in(alice, "alice")
        assert landed.status_code == 303, landed.text
        assert landed.headers["location"] == "/ui/incidents"
        incidents = alice.get("/ui/incidents")
        assert incidents.status_code == 200 and "Alice" in incidents.text
        me = admin.get("/api/v1/users").json()
        assert [(u["username"], u["role"]) for u in me] == [("alice", "responder")]
        # A responder's session: the admin-only API says no.
        assert alice.get("/api/v1/api-keys").status_code == 403
        # Passwords are off.
        refused = alice.post("/login", data={"username": "alice", "password": "x" * 12})
        assert refused.status_code == 403

    with httpx.Client(base_url=server.url, timeout=15) as erin:
        turned_away = _browser_signs_in(erin, "erin")  # nobody added erin@example.com
        assert turned_away.status_code == 403, turned_away.text
        assert "No Vigil user has the email erin@example.com" in turned_away.text
        assert "vigil_session" not in erin.cookies
    assert [u["username"] for u in admin.get("/api/v1/users").json()] == ["alice"]

    with httpx.Client(base_url=server.url, timeout=15) as mallory:
        start = mallory.get("/auth/oidc/login")
        with httpx.Client(timeout=15) as at_provider:
            back = through_provider(at_provider, start.headers["location"], "alice")
        parts = urlsplit(back)
        forged = mallory.get(f"{parts.path}?{parts.query.replace('state=', 'state=x')}")
        assert forged.status_code == 400, forged.text
        assert "vigil_session" not in mallory.cookies

    # The audit log has the sign-in, the refusals, and why.
    entries = admin.get("/api/v1/audit", params={"limit": 50})
    assert entries.status_code == 200, entries.text
    seen = {(e["action"], e["target"]): e for e in entries.json()["items"]}
    assert seen[("sign_in_oidc", "user:alice")]["after"]["role"] == "responder"
    assert seen[("sign_in_failed", "user:erin@example.com")]["after"]["reason"] == \
        "unknown_email"
    assert seen[("sign_in_failed", "user:unknown")]["after"]["reason"] == "bad_state"
    admin.close()
