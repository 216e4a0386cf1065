"""A real OpenID Connect provider for the sign-in tests (npm ``oidc-provider``, run by
``tests/peers/oidc/server.mjs`` on the machine's Node.js), and a person's browser going
through it: Vigil's sign-in button, the provider's login and consent pages, back to Vigil.

Skipped when node or ``tests/peers/oidc/node_modules`` is missing, unless
VIGIL_TEST_REQUIRE_E2E=1 (CI installs it with ``npm ci``), which makes that a failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from server import free_port

PEER = Path(__file__).resolve().parent / "peers" / "oidc"
NODE = shutil.which("node")
REQUIRE = os.environ.get("VIGIL_TEST_REQUIRE_E2E") == "1"
SECRET = "vigil-test-secret-0123456789"

#: Who can sign in at the test provider (any password), with their claims.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@example.com", "groups": ["oncall"]},
    "bob": {"email": "Bob@Example.com", "groups": ["vigil-admins", "oncall"]},
    "carol": {"email": "carol@example.com", "groups": ["staff"]},
    "dave": {"email": "dave@example.com", "email_verified": False, "groups": ["oncall"]},
    "erin": {"email": "erin@example.com", "name": "Erin Example", "groups": []},
}


def need_provider() -> None:
    missing = ("node" if NODE is None else
               None if (PEER / "node_modules" / "oidc-provider").is_dir() else
               "tests/peers/oidc/node_modules (npm ci --prefix tests/peers/oidc)")
    if missing is None:
        return
    if REQUIRE:
        pytest.fail(f"the OpenID Connect test provider needs {missing} "
                    "(VIGIL_TEST_REQUIRE_E2E=1)")
    pytest.skip(f"the OpenID Connect test provider needs {missing}")


@dataclass
class Provider:
    issuer: str
    proc: subprocess.Popen[bytes]
    log: Path

    def settings(self, client_id: str = "vigil", **extra: Any) -> dict[str, Any]:
        """Vigil's settings for signing in through this provider as ``client_id``."""
        return {"oidc_issuer": self.issuer, "oidc_client_id": client_id,
                "oidc_client_secret": SECRET, "oidc_provider_name": "Test IdP",
                "oidc_scopes": "openid email profile groups", **extra}


@contextmanager
def provider(workdir: Path, redirect_uris: dict[str, list[str]]) -> Iterator[Provider]:
    """The provider on a free port of 127.0.0.1, with a confidential client per entry of
    ``redirect_uris`` (client id -> its redirect URIs), all with the secret SECRET."""
    need_provider()
    assert NODE is not None
    port = free_port()
    clients = [{"client_id": cid, "client_secret": SECRET, "redirect_uris": uris}
               for cid, uris in redirect_uris.items()]
    log = workdir / f"oidc-provider-{port}.log"
    env = {**os.environ, "OIDC_CLIENTS": json.dumps(clients),
           "OIDC_ACCOUNTS": json.dumps(ACCOUNTS)}
    with log.open("wb") as out:
        proc = subprocess.Popen([NODE, str(PEER / "server.mjs"), str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"oidc-provider exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration",
                             timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"oidc-provider did not answer: {log.read_text()}")
            time.sleep(0.05)
        yield Provider(issuer, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
_ABORT = re.compile(r'<a href="([^"]+/abort)"')


def through_provider(idp: httpx.Client, url: str, login: str, *,
                     consent: bool = True) -> str:
    """What a person does at the provider, from the authorization URL Vigil sent them
    to: sign in as ``login`` on its login page, then allow (or, without ``consent``,
    cancel) on its consent page. Returns the URL the provider sends them back to."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    for _ in range(20):
        if not url.startswith(origin):
            return url  # back to the client
        resp = idp.get(url, follow_redirects=False)
        if resp.is_redirect:
            url = urljoin(url, resp.headers["location"])
            continue
        assert resp.status_code == 200, f"{url}: {resp.status_code} {resp.text[:500]}"
        found = _ACTION.search(resp.text)
        assert found, resp.text[:2000]
        action = urljoin(url, unescape(found.group(1)))
        if 'name="prompt" value="login"' in resp.text:
            form = {"prompt": "login", "login": login, "password": "any password"}
        elif consent:
            form = {"prompt": "consent"}
        else:
            cancel = _ABORT.search(resp.text)
            assert cancel, resp.text[:2000]
            resp = idp.get(urljoin(url, unescape(cancel.group(1))), follow_redirects=False)
            assert resp.is_redirect, resp.text[:500]
            url = urljoin(url, resp.headers["location"])
            continue
        resp = idp.post(action, data=form, follow_redirects=False)
        assert resp.is_redirect, f"{action}: {resp.status_code} {resp.text[:500]}"
        url = urljoin(action, resp.headers["location"])
    raise AssertionError("the provider kept redirecting")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def start(vigil: httpx.Client, next: str = "/ui") -> str:
    """Vigil's sign-in button: the authorization URL it redirects to."""
    resp = vigil.get("/auth/oidc/login", params={"next": next}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    location: str = resp.headers["location"]
    return location


def sign_in(vigil: httpx.Client, login: str, *, consent: bool = True,
            next: str = "/ui") -> httpx.Response:
    """The whole round trip; the answer of Vigil's callback (not followed)."""
    with httpx.Client(timeout=15) as idp:
        back = through_provider(idp, start(vigil, next), login, consent=consent)
    parts = urlsplit(back)
    return vigil.get(f"{parts.path}?{parts.query}", follow_redirects=False)
