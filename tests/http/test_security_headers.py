"""Security headers on the UI and the API (both databases), the SQLite file readable by its
owner only, and the UI working in Chromium under its Content-Security-Policy."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from conftest import Harness
from server import Server
from ui_browser import sign_up
from ui_sign_in import sign_in
from vigil import migrate
from vigil.auth import signing
from vigil.cli import app as cli
from vigil.db import Database
from vigil.notify import links
from vigil.web.security import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "vigil" / "web" / "templates"
UI_HEADERS = {"content-security-policy": CONTENT_SECURITY_POLICY,
              "x-content-type-options": "nosniff", "x-frame-options": "DENY",
              "referrer-policy": "same-origin"}


def assert_ui_headers(resp: Any) -> None:
    assert resp.headers["content-type"].startswith("text/html"), resp.headers
    for name, value in UI_HEADERS.items():
        assert resp.headers.get(name) == value, (resp.request.url, name, resp.headers)


def test_csp_is_strict_about_scripts() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'" and directives["form-action"] == "'self'"


def test_ui_pages_send_the_security_headers(vigil: Harness) -> None:
    setup = vigil.client.get("/setup")
    assert setup.status_code == 200, setup.text
    assert_ui_headers(setup)
    sign_in(vigil)
    for path in ("/ui", "/ui/incidents", "/ui/alerts", "/ui/oncall", "/ui/silences"):
        page = vigil.client.get(path)
        assert page.status_code == 200, (path, page.text)
        assert_ui_headers(page)
    # The one-click action page of a notification.
    vigil.post_alertmanager({"version": "4", "status": "firing", "alerts": [{
        "status": "firing", "labels": {"alertname": "Disk", "severity": "critical"}}]})
    (inc,) = vigil.client.get("/api/v1/incidents", headers=vigil.auth).json()["items"]
    with vigil.ctx.db.write() as s:
        token = links.sign(signing.secret(s), inc["id"], "acknowledge", vigil.clock.now())
    for method in ("GET", "POST"):
        action = vigil.client.request(method, f"/a/{token}")
        assert action.status_code == 200, action.text
        assert_ui_headers(action)


def test_api_answers_send_nosniff_and_no_csp(vigil: Harness) -> None:
    listed = vigil.client.get("/api/v1/silences", headers=vigil.auth)
    refused = vigil.client.get("/api/v1/silences")
    too_big = vigil.client.post("/api/v1/silences", headers=vigil.auth,
                                content=b"x" * (vigil.ctx.settings.max_body_bytes + 1))
    for resp, status in ((listed, 200), (refused, 401), (too_big, 413)):
        assert resp.status_code == status, resp.text
        assert resp.headers["x-content-type-options"] == "nosniff", resp.headers
        assert "content-security-policy" not in resp.headers
    # FastAPI's API docs load their scripts from a CDN: no CSP there, nosniff still.
    docs = vigil.client.get("/docs")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"


def test_templates_have_no_inline_script_or_event_handler() -> None:
    for template in TEMPLATES.glob("*.html"):
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (template.name, tag)
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", html), template.name
        assert "javascript:" not in html, template.name


# -- the SQLite file -------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which SQLite's own files would be world-readable (0644)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_file_and_its_wal_are_private(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "vigil.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    with db.write() as s:  # the WAL and its index exist while a connection is open
        s.execute(text("SELECT 1"))
        assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
        assert {name: mode(Path(f"{path}{name}")) for name in ("", "-wal", "-shm")} == {
            "": 0o600, "-wal": 0o600, "-shm": 0o600}
    db.dispose()


def test_vigil_migrate_creates_a_private_file(tmp_path: Path, umask_022: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("VIGIL_DATABASE_URL", f"sqlite:///{path}")
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600


def test_a_world_readable_file_is_narrowed_with_a_warning(
        tmp_path: Path, umask_022: None, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "old.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    os.chmod(path, 0o644)
    Path(f"{path}-wal").write_bytes(b"")
    os.chmod(f"{path}-wal", 0o664)
    with caplog.at_level(logging.WARNING, logger="vigil.db.engine"):
        db = Database(f"sqlite:///{path}")
    assert mode(path) == 0o600 and mode(Path(f"{path}-wal")) == 0o600
    warned = [r.getMessage() for r in caplog.records if r.name == "vigil.db.engine"]
    assert any(str(path) in m and "644" in m for m in warned), warned
    assert any(f"{path}-wal" in m and "664" in m for m in warned), warned
    with db.read() as s:  # still the same database
        assert s.execute(text("SELECT count(*) FROM tenants")).scalar_one() >= 1
    db.dispose()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vigil.db.engine"):
        Database(f"sqlite:///{path}").dispose()
    assert not [r for r in caplog.records if r.name == "vigil.db.engine"]  # once is enough


def test_vigil_serve_creates_a_private_file(ui_server: Server, tmp_path: Path) -> None:
    assert mode(tmp_path / "vigil.db") == 0o600


# -- the UI in Chromium under the policy ---------------------------------------------------


@pytest.mark.e2e
def test_the_ui_breaks_no_rule_of_its_csp(ui_server: Server, browser_page: Any) -> None:
    page = browser_page
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "console.error('Content Security Policy: ' + e.violatedDirective"
                         " + ' ' + e.blockedURI))")
    sign_up(page)
    for path in ("/ui", "/ui/incidents", "/ui/alerts", "/ui/oncall", "/ui/silences",
                 "/ui/services", "/ui/teams", "/ui/users", "/ui/escalation-policies",
                 "/ui/integrations"):
        resp = page.goto(path)
        assert resp is not None and resp.status == 200, path
        assert resp.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        page.wait_for_load_state("networkidle")
    assert violations == []
