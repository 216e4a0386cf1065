"""/setup creates the first administrator only with the one-time setup token (or an admin
API key); the token is printed by `vigil serve`, replaced by `vigil setup-token`, and
consumed by the setup."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from typer.testing import CliRunner

from conftest import Harness
from vigil.auth import setup_token
from vigil.auth.models import SetupToken, User
from vigil.auth.sign_in import COOKIE
from vigil.bootstrap import FirstRun, banner
from vigil.cli import app as cli

FORM = {"username": "root", "name": "Root", "email": "root@example.com",
        "password": "a long enough password"}


def token_of(h: Harness) -> str:
    settings = h.ctx.settings.model_copy(update={"public_url": "http://vigil:8080"})
    url = setup_token.setup_url(h.ctx.db, settings, now=h.clock.now())
    assert url is not None and url.startswith("http://vigil:8080/setup?token=")
    return url.rsplit("=", 1)[1]


def users(h: Harness) -> int:
    with h.ctx.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(User)) or 0)


def post(h: Harness, headers: dict[str, str] | None = None, **form: str) -> Any:
    h.client.cookies.clear()
    return h.client.post("/setup", data={**FORM, **form}, headers=headers,
                         follow_redirects=False)


def test_setup_without_or_with_a_wrong_token_is_refused(vigil: Harness) -> None:
    token_of(vigil)
    for form in ({}, {"token": ""}, {"token": "guess"}, {"token": "x" * 5000}):
        resp = post(vigil, **form)
        assert resp.status_code == 403, resp.text
        assert "A valid setup token is needed" in resp.text
        assert COOKIE not in resp.cookies
    assert users(vigil) == 0
    assert vigil.client.get("/setup?token=guess").status_code == 403


def test_the_token_from_the_link_creates_the_admin_once(vigil: Harness) -> None:
    token = token_of(vigil)
    form = vigil.client.get(f"/setup?token={token}")
    assert form.status_code == 200
    assert f'<input type="hidden" name="token" value="{token}">' in form.text
    resp = post(vigil, token=token)
    assert resp.status_code == 303 and resp.headers["location"] == "/ui", resp.text
    with vigil.ctx.db.read() as s:
        assert s.scalars(select(User.role).where(User.username == "root")).one() == "admin"
        assert s.scalar(select(func.count()).select_from(SetupToken)) == 0
    vigil.client.cookies.set(COOKIE, resp.cookies[COOKIE])
    assert vigil.client.get("/ui", follow_redirects=False).status_code == 200
    # The token cannot be used again: setup is over and no second admin is made.
    again = post(vigil, token=token, username="mallory", email="m@example.com")
    assert again.status_code == 303 and again.headers["location"] == "/login"
    assert users(vigil) == 1
    assert vigil.client.get(f"/setup?token={token}",
                            follow_redirects=False).headers["location"] == "/login"


def test_a_consumed_token_is_gone_even_before_the_setup_commits(vigil: Harness) -> None:
    token = token_of(vigil)
    with vigil.ctx.db.write() as s:
        assert setup_token.consume(s, token) is True
    with vigil.ctx.db.write() as s:
        assert setup_token.consume(s, token) is False
    assert post(vigil, token=token).status_code == 403
    assert users(vigil) == 0


def test_a_new_token_replaces_the_old_one(vigil: Harness) -> None:
    old = token_of(vigil)
    new = token_of(vigil)
    assert post(vigil, token=old).status_code == 403
    assert users(vigil) == 0
    assert post(vigil, token=new).status_code == 303


def test_bad_fields_keep_the_token_and_create_nothing(vigil: Harness) -> None:
    token = token_of(vigil)
    resp = post(vigil, token=token, password="short")
    assert resp.status_code == 422 and "Password: at least 10 characters." in resp.text
    assert f'name="token" value="{token}"' in resp.text
    assert users(vigil) == 0
    assert post(vigil, token=token).status_code == 303


def test_an_admin_api_key_may_stand_in_for_the_token(vigil: Harness) -> None:
    responder = {"Authorization": f"Bearer {vigil.key_for('responder')}"}
    assert post(vigil, headers=responder).status_code == 403
    assert post(vigil, headers={"Authorization": "Bearer vgl_unknown"}).status_code == 403
    assert users(vigil) == 0
    token = token_of(vigil)
    resp = post(vigil, headers=vigil.auth)
    assert resp.status_code == 303, resp.text
    assert users(vigil) == 1
    assert post(vigil, token=token, username="second").headers["location"] == "/login"


def test_the_form_without_a_link_asks_for_the_token(vigil: Harness) -> None:
    resp = vigil.client.get("/setup")
    assert resp.status_code == 200
    assert re.search(r'Setup token <input name="token"', resp.text)
    assert "vigil setup-token" in resp.text


def test_the_banner_prints_the_setup_link(vigil: Harness) -> None:
    settings = vigil.ctx.settings.model_copy(update={"public_url": "http://h:1"})
    url = setup_token.setup_url(vigil.ctx.db, settings, now=vigil.clock.now())
    assert url is not None
    text = banner(FirstRun(api_key="vgl_x", integration_key="k"), "http://h:1", url)
    assert f"Web UI:   {url}" in text


def test_the_cli_prints_a_new_link_only_while_setup_is_needed(vigil: Harness) -> None:
    runner = CliRunner()
    env = {"VIGIL_DATABASE_URL": vigil.ctx.settings.database_url,
           "VIGIL_PUBLIC_URL": "https://vigil.example"}
    first = runner.invoke(cli, ["setup-token"], env=env)
    assert first.exit_code == 0, first.output
    url = first.output.strip()
    assert url.startswith("https://vigil.example/setup?token=")
    assert post(vigil, token=url.rsplit("=", 1)[1]).status_code == 303
    done = runner.invoke(cli, ["setup-token"], env=env)
    assert done.exit_code == 1
    assert "setup is done" in done.output


def test_no_setup_link_once_openid_connect_is_set_up(vigil: Harness) -> None:
    settings = vigil.ctx.settings.model_copy(update={
        "oidc_issuer": "https://idp.example", "oidc_client_id": "vigil"})
    assert setup_token.setup_url(vigil.ctx.db, settings, now=vigil.clock.now()) is None
