"""Signing in through a real OpenID Connect provider (npm oidc-provider on 127.0.0.1): the
authorization code flow with PKCE from Vigil's button through the provider's login and
consent pages back to Vigil's callback, on the real app and database. The provider
requires PKCE of every client, so a flow without it could not succeed."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError
from sqlalchemy import func, select

from conftest import Harness, make_harness
from oidc_peer import SECRET, Provider, provider, query, sign_in, start, through_provider
from server import free_port
from vigil.audit.models import AuditEntry
from vigil.auth import oidc
from vigil.auth.models import User
from vigil.auth.sign_in import COOKIE, hash_password
from vigil.clock import FakeClock
from vigil.config import Settings

VIGIL = "http://testserver"
OTHER_REDIRECT = "http://127.0.0.1:9/other/callback"
_first_audit: dict[int, int] = {}
ROLES = {"oidc_role_claim": "groups", "oidc_admin_values": "vigil-admins",
         "oidc_responder_values": "oncall, sre"}


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with provider(tmp_path_factory.mktemp("oidc"),
                  {"vigil": [f"{VIGIL}/auth/oidc/callback"],
                   "other": [OTHER_REDIRECT]}) as p:
        yield p


@pytest.fixture
def make(db_url: str, idp: Provider) -> Iterator[Callable[..., Harness]]:
    """Vigil signing in through the provider, with these settings besides."""
    stack = ExitStack()

    def build(**settings: Any) -> Harness:
        # The provider's tokens carry real times: Vigil's clock starts at the real now.
        gen = make_harness(db_url, FakeClock(datetime.now(UTC)), public_url=VIGIL,
                           **{**idp.settings(), **settings})
        h = next(gen)
        stack.callback(gen.close)
        with h.ctx.db.read() as s:  # (earlier tests' entries may be there on PostgreSQL)
            _first_audit[id(h)] = s.scalar(select(func.max(AuditEntry.id))) or 0
        return h

    yield build
    stack.close()


def add_user(h: Harness, username: str, email: str, role: str = "viewer") -> None:
    resp = h.client.post("/api/v1/users", headers=h.auth, json={
        "username": username, "name": username.title(), "email": email, "role": role})
    assert resp.status_code == 201, resp.text


def user(h: Harness, username: str) -> User | None:
    with h.ctx.db.read() as s:
        found = s.scalars(select(User).where(User.username == username)).first()
        if found is not None:
            s.expunge(found)
        return found


def audit(h: Harness) -> list[AuditEntry]:
    with h.ctx.db.read() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action.like("sign_in%"),
                                                       AuditEntry.id > _first_audit[id(h)])
                              .order_by(AuditEntry.id)))
        s.expunge_all()
        return rows


def test_first_sign_in_of_a_known_email_links_the_user_with_the_mapped_role(
        make: Callable[..., Harness], idp: Provider) -> None:
    h = make(**ROLES)
    add_user(h, "alice", "alice@example.com", role="viewer")

    resp = sign_in(h.client, "alice", next="/ui/incidents")
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == "/ui/incidents"
    assert COOKIE in h.client.cookies
    page = h.client.get("/ui", follow_redirects=False)
    assert page.status_code == 200 and "Alice" in page.text
    alice = user(h, "alice")
    assert alice is not None
    assert (alice.role, alice.oidc_issuer, alice.oidc_subject) == ("responder", idp.issuer,
                                                                   "alice")
    # A responder, not an admin: the API says so with the same session.
    assert h.client.get("/api/v1/api-keys").status_code == 403
    entry, session = audit(h)
    assert (entry.action, entry.actor, entry.target) == ("sign_in_oidc", "user:alice",
                                                         "user:alice")
    assert (session.action, session.target) == ("sign_in", "user:alice")
    assert entry.before == {"role": "viewer", "oidc_subject": None}
    assert entry.after is not None and entry.after["role"] == "responder"
    assert entry.address == "testclient"

    # Signing in again finds the same user by the link; no one else is made.
    h.client.cookies.clear()
    assert sign_in(h.client, "alice").status_code == 303
    with h.ctx.db.read() as s:
        assert s.scalars(select(User.username).order_by(User.id)).all() == ["alice"]


def test_a_group_maps_to_admin_and_emails_match_whatever_their_case(
        make: Callable[..., Harness]) -> None:
    h = make(**ROLES)
    add_user(h, "bob", "bob@example.com", role="viewer")  # the provider says Bob@Example.com
    assert sign_in(h.client, "bob").status_code == 303
    bob = user(h, "bob")
    assert bob is not None and bob.role == "admin"
    assert h.client.get("/api/v1/api-keys").status_code == 200


def test_an_unknown_email_is_refused_when_users_are_not_created(
        make: Callable[..., Harness]) -> None:
    h = make(**ROLES)
    resp = sign_in(h.client, "alice")
    assert resp.status_code == 403, resp.text
    assert "No Vigil user has the email alice@example.com" in resp.text
    assert COOKIE not in h.client.cookies
    assert user(h, "alice") is None
    (entry,) = audit(h)
    assert (entry.action, entry.actor, entry.target) == ("sign_in_failed", "oidc:alice",
                                                         "user:alice@example.com")
    assert entry.after == {"method": "oidc", "reason": "unknown_email",
                           "email": "alice@example.com"}


def test_a_new_person_is_created_at_first_sign_in_when_allowed(
        make: Callable[..., Harness], idp: Provider) -> None:
    h = make(oidc_create_users=True, oidc_default_role="responder")
    assert sign_in(h.client, "erin").status_code == 303
    erin = user(h, "erin")
    assert erin is not None
    assert (erin.name, erin.email, erin.role, erin.password_hash) == (
        "Erin Example", "erin@example.com", "responder", None)
    assert (erin.oidc_issuer, erin.oidc_subject) == (idp.issuer, "erin")
    # No password, and still signed in.
    assert h.client.get("/ui", follow_redirects=False).status_code == 200
    entry, _ = audit(h)
    assert entry.action == "sign_in_oidc" and entry.after is not None
    assert entry.after["created"] is True and entry.before is None


def test_a_tampered_state_is_refused(make: Callable[..., Harness]) -> None:
    h = make(**ROLES)
    add_user(h, "alice", "alice@example.com")
    with httpx.Client(timeout=15) as browser:
        back = through_provider(browser, start(h.client), "alice")
    params = query(back)
    params["state"] = params["state"][:-2] + ("xx" if not params["state"].endswith("xx")
                                              else "yy")
    resp = h.client.get("/auth/oidc/callback", params=params, follow_redirects=False)
    assert resp.status_code == 400, resp.text
    assert "state does not match" in resp.text
    assert COOKIE not in h.client.cookies
    alice = user(h, "alice")
    assert alice is not None and alice.oidc_subject is None
    (entry,) = audit(h)
    assert entry.action == "sign_in_failed" and entry.after is not None
    assert entry.after["reason"] == "bad_state"


def test_a_callback_without_the_flow_cookie_is_refused_and_not_logged(
        make: Callable[..., Harness]) -> None:
    h = make(**ROLES)
    add_user(h, "alice", "alice@example.com")
    with httpx.Client(timeout=15) as browser:
        back = through_provider(browser, start(h.client), "alice")
    h.client.cookies.clear()  # another browser brings the code and state
    resp = h.client.get("/auth/oidc/callback", params=query(back), follow_redirects=False)
    assert resp.status_code == 400 and "expired or was started in another" in resp.text
    assert audit(h) == []


def test_cancelling_at_the_provider_is_a_403(make: Callable[..., Harness]) -> None:
    h = make(**ROLES)
    add_user(h, "alice", "alice@example.com")
    resp = sign_in(h.client, "alice", consent=False)
    assert resp.status_code == 403, resp.text
    assert "did not sign you in" in resp.text
    assert COOKIE not in h.client.cookies


def test_no_mapped_group_with_the_default_role_deny_is_refused(
        make: Callable[..., Harness]) -> None:
    h = make(**ROLES, oidc_default_role="deny")
    add_user(h, "carol", "carol@example.com", role="admin")  # groups: staff only
    resp = sign_in(h.client, "carol")
    assert resp.status_code == 403 and "no role in Vigil" in resp.text
    carol = user(h, "carol")
    assert carol is not None and (carol.role, carol.oidc_subject) == ("admin", None)
    # ... while without deny the provider's word (no mapped group: the default) wins.
    h2 = make(**ROLES, oidc_default_role="viewer")  # (the same database)
    assert sign_in(h2.client, "carol").status_code == 303
    carol = user(h2, "carol")
    assert carol is not None and carol.role == "viewer"


def test_an_unverified_email_is_not_matched(make: Callable[..., Harness]) -> None:
    h = make(**ROLES)
    add_user(h, "dave", "dave@example.com")
    resp = sign_in(h.client, "dave")
    assert resp.status_code == 403 and "verified email" in resp.text
    dave = user(h, "dave")
    assert dave is not None and dave.oidc_subject is None


def test_a_user_linked_to_another_subject_is_not_taken_over(
        make: Callable[..., Harness], idp: Provider) -> None:
    h = make(**ROLES)
    add_user(h, "alice", "alice@example.com")
    with h.ctx.db.write() as s:
        found = s.scalars(select(User).where(User.username == "alice")).one()
        found.oidc_issuer, found.oidc_subject = idp.issuer, "someone-else"
    resp = sign_in(h.client, "alice")
    assert resp.status_code == 403 and "signs in as another identity" in resp.text


def test_password_sign_in_can_be_turned_off(make: Callable[..., Harness]) -> None:
    h = make(oidc_password_sign_in=False)
    now = h.clock.now()
    with h.ctx.db.write() as s:
        s.add(User(tenant_id=1, username="root", name="Root", email="root@example.com",
                   role="admin", password_hash=hash_password("correct horse battery"),
                   ical_token="t" * 24, created_at=now, updated_at=now))
    form = h.client.get("/login")
    assert form.status_code == 200
    assert 'href="/auth/oidc/login?next=/ui">Sign in with Test IdP</a>' in form.text
    assert 'name="password"' not in form.text  # no form that could only be refused
    resp = h.client.post("/login", data={"username": "root", "password": "correct horse battery"},
                         follow_redirects=False)
    assert resp.status_code == 403 and COOKIE not in h.client.cookies


def test_with_the_provider_set_up_the_sign_in_page_needs_no_first_run_setup(
        make: Callable[..., Harness]) -> None:
    h = make()  # nobody has a password: without OIDC this page would send to /setup
    form = h.client.get("/login", follow_redirects=False)
    assert form.status_code == 200 and "Sign in with Test IdP" in form.text
    assert 'name="password"' in form.text  # passwords stay on unless turned off


def test_without_an_issuer_there_is_no_button_and_no_flow(db_url: str) -> None:
    for h in make_harness(db_url, FakeClock(datetime.now(UTC))):
        assert h.client.get("/auth/oidc/login").status_code == 404
        assert h.client.get("/auth/oidc/callback?code=x&state=y").status_code == 404
        assert h.client.get("/login", follow_redirects=False).status_code == 303  # /setup


def test_an_unreachable_provider_is_a_502_page_not_a_500(db_url: str) -> None:
    for h in make_harness(db_url, FakeClock(datetime.now(UTC)), public_url=VIGIL,
                          oidc_issuer=f"http://127.0.0.1:{free_port()}",
                          oidc_client_id="vigil"):
        resp = h.client.get("/auth/oidc/login", follow_redirects=False)
        assert resp.status_code == 502 and "did not answer" in resp.text


# --- the id_token's checks, on tokens the real provider issued ---------------------------

def _token_for(idp: Provider, client_id: str, nonce: str) -> dict[str, Any]:
    """A real token response of the provider to ``client_id`` (a client other than Vigil)."""
    meta = httpx.get(f"{idp.issuer}/.well-known/openid-configuration").json()
    with OAuth2Client(client_id=client_id, client_secret=SECRET, scope="openid email",
                      redirect_uri=OTHER_REDIRECT, code_challenge_method="S256") as client:
        verifier = "v" * 64
        url, state = client.create_authorization_url(meta["authorization_endpoint"],
                                                     code_verifier=verifier, nonce=nonce)
        with httpx.Client(timeout=15) as browser:
            back = through_provider(browser, url, "alice")
        assert query(back)["state"] == state
        token: dict[str, Any] = client.fetch_token(meta["token_endpoint"],
                                                   code=query(back)["code"],
                                                   code_verifier=verifier)
    return token


def test_an_id_token_is_checked_for_audience_signature_expiry_and_nonce(
        idp: Provider) -> None:
    token = _token_for(idp, "other", nonce="n-123")
    meta = httpx.get(f"{idp.issuer}/.well-known/openid-configuration").json()
    keys = oidc.key_set(meta)
    now = datetime.now(UTC)

    def verify(raw: str, **kw: Any) -> dict[str, Any]:
        args: dict[str, Any] = {"keys": keys, "issuer": idp.issuer, "client_id": "other",
                                "nonce": "n-123", "now": now, "algorithms": ["RS256"],
                                **kw}
        return oidc.verify_id_token(raw, **args)

    raw = token["id_token"]
    assert verify(raw)["sub"] == "alice"  # the token itself is good ...
    with pytest.raises(InvalidClaimError, match="aud"):  # ... but not for Vigil
        verify(raw, client_id="vigil")
    with pytest.raises(InvalidClaimError, match="iss"):
        verify(raw, issuer="https://idp.example.com")
    with pytest.raises(InvalidClaimError, match="nonce"):
        verify(raw, nonce="another")
    with pytest.raises(ExpiredTokenError):
        verify(raw, now=now + timedelta(hours=2))
    head, body, sig = raw.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "aud": "vigil"}).encode())
    with pytest.raises(BadSignatureError):
        verify(f"{head}.{forged.decode().rstrip('=')}.{sig}", client_id="vigil")


# --- the pure parts ------------------------------------------------------------------------

def _settings(**kw: Any) -> Settings:
    return Settings(**{"oidc_issuer": "https://idp.example.com", "oidc_client_id": "vigil",
                       **kw})


def test_roles_come_from_the_highest_matching_value_of_a_dotted_claim() -> None:
    s = _settings(oidc_role_claim="realm_access.roles", oidc_admin_values="boss",
                  oidc_responder_values="oncall,sre", oidc_default_role="deny")
    assert oidc.mapped_role(s, {"realm_access": {"roles": ["sre", "boss"]}}) == "admin"
    assert oidc.mapped_role(s, {"realm_access": {"roles": ["sre"]}}) == "responder"
    assert oidc.mapped_role(s, {"realm_access": {"roles": "oncall"}}) == "responder"
    assert oidc.mapped_role(s, {"realm_access": ["sre"]}) is None
    assert oidc.role_for(s, {}, current="admin") is None  # deny: the claim decides
    plain = _settings(oidc_default_role="viewer")
    assert oidc.role_for(plain, {"groups": ["x"]}, current="admin") == "admin"
    assert oidc.role_for(plain, {}, current=None) == "viewer"


def test_emails_count_only_when_verified_unless_configured_otherwise() -> None:
    s = _settings()
    assert oidc.verified_email(s, {"email": "A@B.example", "email_verified": True}) == \
        "a@b.example"
    assert oidc.verified_email(s, {"email": "a@b.example", "email_verified": "true"}) == \
        "a@b.example"
    assert oidc.verified_email(s, {"email": "a@b.example"}) is None
    assert oidc.verified_email(s, {"email": "a@b.example", "email_verified": False}) is None
    loose = _settings(oidc_require_verified_email=False, oidc_email_claim="upn")
    assert oidc.verified_email(loose, {"upn": "a@b.example"}) == "a@b.example"


def test_the_flow_cookie_cannot_be_read_forged_replayed_late_or_moved(
        tmp_path: Path) -> None:
    s = _settings()
    now = datetime(2026, 3, 1, tzinfo=UTC)
    flow = oidc.new_flow("//evil.example/x", now)
    assert flow.to == "/ui"  # only paths of Vigil's own
    sealed = oidc.seal(flow, b"k" * 32, s)
    assert flow.verifier not in sealed and flow.state not in sealed
    assert oidc.unseal(sealed, b"k" * 32, s, now) == flow
    assert oidc.unseal(sealed, b"x" * 32, s, now) is None
    assert oidc.unseal(sealed[:-3] + ("AAA" if sealed[-3:] != "AAA" else "BBB"), b"k" * 32,
                       s, now) is None
    assert oidc.unseal(sealed, b"k" * 32, s, now + oidc.FLOW_LIFETIME) is None
    other = _settings(oidc_client_id="another")
    assert oidc.unseal(sealed, b"k" * 32, other, now) is None
    assert oidc.unseal("garbage!", b"k" * 32, s, now) is None


def test_issuers_must_be_https_except_on_this_machine() -> None:
    with pytest.raises(ValueError):
        Settings(oidc_issuer="http://idp.example.com")
    assert Settings(oidc_issuer="http://127.0.0.1:8080").oidc_issuer
