"""Channel secrets and the signing secret are encrypted at rest (docs/secrets-at-rest.md):
the raw rows, read with plain SQL, hold none of them; real deliveries to a receiver on
127.0.0.1 still carry them; the key file is made 0600; keys rotate; plain text stored
before still works and is encrypted; a wrong key stops a node at start and is a clear
503 (and a reason in /health) on a request, never a bare 500. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from cryptography.fernet import Fernet, InvalidToken
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from channel_servers import RecordingServer
from conftest import Harness, make_harness
from vigil.app import create_app
from vigil.auth import secrets_at_rest, signing
from vigil.auth.secrets_at_rest import PREFIX, SecretKeyError
from vigil.cli import app as cli
from vigil.clock import FakeClock
from vigil.config import Settings
from vigil.db import Database
from vigil.notify import links
from vigil.notify.models import NotificationChannel
from vigil.notify.service import MASK
from vigil.system.health import check
from vigil.worker.notifier import run_once

OLD, NEW, OTHER = Fernet.generate_key().decode(), Fernet.generate_key().decode(), \
    Fernet.generate_key().decode()
BEARER = "Bearer HeaderBearerSecret99"
SIGNING = "SigningSecret-0123456789"
SECRETS = ("HeaderBearerSecret99", "QueryKeySecret", SIGNING)
MIGRATION = Path(__file__).resolve().parents[2] / "src" / "vigil" / "migrations" / \
    "versions" / "0019_secrets_at_rest.py"


@pytest.fixture
def url(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The database, with no signing secret left by an earlier test (PostgreSQL's schema
    is shared; its channels are emptied by ``db_url``) and no key from the environment."""
    monkeypatch.delenv("VIGIL_SECRET_KEY", raising=False)
    monkeypatch.delenv("VIGIL_SECRET_KEY_FILE", raising=False)
    monkeypatch.setenv("VIGIL_DATABASE_URL", db_url)
    _clear(db_url)
    yield db_url
    _clear(db_url)


def _clear(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM app_secrets"))
        conn.execute(text("DELETE FROM deliveries"))
        conn.execute(text("DELETE FROM routing_rules"))
        conn.execute(text("DELETE FROM notification_channels"))
    db.dispose()
    secrets_at_rest.forget(url)


def harness(url: str, clock: FakeClock, **settings: Any) -> Iterator[Harness]:
    return make_harness(url, clock, **settings)


def raw(url: str) -> tuple[list[str], list[str]]:
    """The stored channel configs (as JSON text) and app secrets, by plain SQL."""
    db = Database(url)
    with db.engine.connect() as conn:
        configs = [str(c) for (c,) in conn.execute(
            text("SELECT CAST(config AS TEXT) FROM notification_channels ORDER BY id"))]
        values = [str(v) for (v,) in conn.execute(
            text("SELECT value FROM app_secrets ORDER BY name"))]
    db.dispose()
    return configs, values


def hook(h: Harness, srv: RecordingServer, name: str = "hook") -> int:
    port = srv.url.rsplit(":", 1)[1]
    resp = h.client.post("/api/v1/channels", headers=h.auth, json={
        "name": name, "kind": "webhook", "config": {
            "url": f"http://127.0.0.1:{port}/in?key=QueryKeySecret",
            "headers": {"Authorization": BEARER}, "secret": SIGNING}})
    assert resp.status_code == 201, resp.text
    made = h.client.post("/api/v1/routing-rules", headers=h.auth, json={
        "name": f"all to {name}", "channels": [name]})
    assert made.status_code == 201, made.text
    return int(resp.json()["id"])


def signing_secret(h: Harness) -> bytes:
    with h.ctx.db.write() as s:
        return signing.secret(s)


def page(h: Harness, name: str) -> None:
    resp = h.post_alertmanager({"alerts": [{"status": "firing", "labels": {
        "alertname": name, "severity": "critical"}}]})
    assert resp.status_code == 202, resp.text


def no_plaintext(url: str, key: bytes) -> None:
    configs, values = raw(url)
    assert configs and values
    for stored in configs + values:
        for secret in (*SECRETS, key.decode()):
            assert secret not in stored, (secret, stored)
    assert all(v.startswith(PREFIX) for v in values)
    for config in configs:
        parsed = orjson.loads(config)
        assert parsed["url"].startswith(PREFIX) and parsed["secret"].startswith(PREFIX)
        assert parsed["headers"]["Authorization"].startswith(PREFIX)


def opens_with(url: str, key: str) -> None:
    """Every encrypted value opens with ``key`` alone."""
    configs, values = raw(url)
    only = Fernet(key)
    sealed = values + [v for c in configs for v in _strings(orjson.loads(c))]
    sealed = [v for v in sealed if v.startswith(PREFIX)]
    assert sealed
    for value in sealed:
        only.decrypt(value[len(PREFIX):].encode())


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def test_stored_rows_hold_no_plaintext_and_deliveries_carry_the_secrets(
        url: str, clock: FakeClock) -> None:
    with RecordingServer() as srv:
        for h in harness(url, clock, secret_key=OLD):
            hook(h, srv)
            key = signing_secret(h)
            no_plaintext(url, key)
            # Shown masked as before (decrypted to be masked, never shown).
            (shown,) = h.client.get("/api/v1/channels", headers=h.auth).json()
            assert shown["config"]["headers"] == {"Authorization": f"{MASK}et99"}
            assert shown["config"]["secret"] == f"{MASK}6789"
            page(h, "Down")
            (req,) = [*delivered_requests(h, srv)]
            assert req.headers["authorization"] == BEARER
            assert req.query == {"key": ["QueryKeySecret"]}
            assert req.headers["x-vigil-signature"] == _signature(req)
            # The signing secret is the same each time it is read (tokens stay valid).
            assert signing_secret(h) == key


def delivered_requests(h: Harness, srv: RecordingServer) -> list[Any]:
    assert run_once(h.ctx).counts["sent"] == 1
    return srv.wait()


def _signature(req: Any) -> str:
    ts = req.headers["x-vigil-timestamp"]
    digest = hmac.new(SIGNING.encode(), f"{ts}.".encode() + req.body, hashlib.sha256)
    return f"v1={digest.hexdigest()}"


def test_the_key_file_is_made_0600_beside_the_sqlite_database(
        tmp_path: Path, sqlite_template: Path, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIL_SECRET_KEY", raising=False)
    monkeypatch.delenv("VIGIL_SECRET_KEY_FILE", raising=False)
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "vigil.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    old_umask = os.umask(0o022)
    try:
        for h in harness(url, clock):
            key_file = tmp_path / "data" / "vigil.db.key"
            assert key_file.exists()  # made on first run
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
            (key,) = [line for line in key_file.read_text().splitlines()
                      if line and not line.startswith("#")]
            with RecordingServer() as srv:
                hook(h, srv)
                no_plaintext(url, signing_secret(h))
                opens_with(url, key)
                # Read once: the file is not read again per secret.
                key_file.rename(tmp_path / "moved.key")
                page(h, "Down")
                (req,) = delivered_requests(h, srv)
                assert req.headers["authorization"] == BEARER
    finally:
        os.umask(old_umask)
        secrets_at_rest.forget(url)
    # VIGIL_SECRET_KEY_FILE names another place (its directory is made too).
    elsewhere = tmp_path / "keys" / "vigil.key"
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}",
                        secret_key_file=str(elsewhere))
    ring = secrets_at_rest.configure(settings)
    try:
        sealed = ring.encrypt("x")
        assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
        assert ring.decrypt(sealed) == "x" and sealed.startswith(PREFIX)
        assert ring.decrypt(ring.encrypt("\ud800 a lone surrogate")) == "\ud800 a lone surrogate"
    finally:
        secrets_at_rest.forget(settings.url)


def rotate(*keys: str) -> Any:
    os.environ["VIGIL_SECRET_KEY"] = ",".join(keys)
    try:
        return CliRunner().invoke(cli, ["secrets", "rotate"])
    finally:
        del os.environ["VIGIL_SECRET_KEY"]


def test_rotation_re_encrypts_with_the_first_key_then_the_old_one_can_go(
        url: str, clock: FakeClock) -> None:
    with RecordingServer() as srv:
        for h in harness(url, clock, secret_key=OLD):
            hook(h, srv)
            key = signing_secret(h)
            token = links.sign(key, 1, "acknowledge", clock.now())
        before = raw(url)
        opens_with(url, OLD)
        # A key that opens nothing: the whole rotation is refused, nothing changed.
        failed = rotate(OTHER)
        assert failed.exit_code == 1
        assert "cannot be decrypted with VIGIL_SECRET_KEY" in failed.output
        assert raw(url) == before
        done = rotate(NEW, OLD)
        assert done.exit_code == 0, done.output
        assert "re-encrypted 4 secrets" in done.output  # signing + url, header, secret
        assert "can now be removed" in done.output
        after = raw(url)
        assert after != before
        opens_with(url, NEW)
        with pytest.raises(InvalidToken):
            opens_with(url, OLD)
        # The old key removed: the node starts, sends, and old links stay valid.
        for h in harness(url, clock, secret_key=NEW):
            assert signing_secret(h) == key
            assert links.verify(signing_secret(h), token, clock.now()) == (1, "acknowledge")
            page(h, "After rotation")
            (req,) = delivered_requests(h, srv)
            assert req.headers["authorization"] == BEARER
            assert req.headers["x-vigil-signature"] == _signature(req)
            no_plaintext(url, key)


def _migration() -> Any:
    spec = importlib.util.spec_from_file_location("migration_0019", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(url: str, step: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        getattr(_migration(), step)()
    db.dispose()


def _store_plaintext(h: Harness, channel_id: int, config: dict[str, Any], key: str) -> None:
    """As a Vigil before encryption at rest stored them."""
    with h.ctx.db.write() as s:
        row = s.get(NotificationChannel, channel_id)
        assert row is not None
        row.config = config
        s.execute(text("DELETE FROM app_secrets"))
        s.execute(text("INSERT INTO app_secrets (name, value) VALUES ('links', :v)"),
                  {"v": key})


def test_plaintext_stored_before_still_works_and_the_migration_encrypts_it(
        url: str, clock: FakeClock) -> None:
    with RecordingServer() as srv:
        for h in harness(url, clock, secret_key=OLD):
            channel_id = hook(h, srv)
            port = srv.url.rsplit(":", 1)[1]
            legacy = {"url": f"http://127.0.0.1:{port}/in?key=QueryKeySecret",
                      "headers": {"Authorization": BEARER}, "secret": SIGNING}
            _store_plaintext(h, channel_id, legacy, "legacy-signing-secret-0123456789")
            configs, values = raw(url)
            assert BEARER in configs[0] and values == ["legacy-signing-secret-0123456789"]
            # Read as it is: sent, masked, and the signing secret unchanged.
            assert signing_secret(h) == b"legacy-signing-secret-0123456789"
            page(h, "Legacy")
            (req,) = delivered_requests(h, srv)
            assert req.headers["authorization"] == BEARER
            (shown,) = h.client.get("/api/v1/channels", headers=h.auth).json()
            assert shown["config"]["headers"] == {"Authorization": f"{MASK}et99"}
        # Migration 0019 encrypts it (and its downgrade decrypts it again).
        _run(url, "upgrade")
        no_plaintext(url, b"legacy-signing-secret-0123456789")
        opens_with(url, OLD)
        _run(url, "downgrade")
        configs, values = raw(url)
        assert orjson.loads(configs[0]) == legacy
        assert values == ["legacy-signing-secret-0123456789"]
        # ... and so does `vigil secrets rotate`, for what an older node wrote later.
        assert rotate(OLD).exit_code == 0
        no_plaintext(url, b"legacy-signing-secret-0123456789")
        for h in harness(url, clock, secret_key=OLD):
            assert signing_secret(h) == b"legacy-signing-secret-0123456789"
            page(h, "Encrypted since")
            (req,) = delivered_requests(h, srv)
            assert req.headers["authorization"] == BEARER


def test_a_node_with_the_wrong_key_stops_at_start_saying_why(
        url: str, clock: FakeClock, tmp_path: Path) -> None:
    with RecordingServer() as srv:
        for h in harness(url, clock, secret_key=OLD):
            hook(h, srv)
            key = signing_secret(h)
    before = raw(url)
    app = create_app(Settings(database_url=url, secret_key=NEW), clock=clock,
                     run_background_jobs=False)
    with pytest.raises(SecretKeyError) as failed, TestClient(app):
        pass
    assert "stored secrets" in failed.value.message
    assert "cannot be decrypted with VIGIL_SECRET_KEY" in failed.value.message
    assert "VIGIL_SECRET_KEY" in failed.value.message
    # No key at all (no VIGIL_SECRET_KEY, and no key file where one is looked for): the
    # node stops too, and makes no new key that could not open them either.
    missing = tmp_path / "missing.key"
    app = create_app(Settings(database_url=url, secret_key_file=str(missing)), clock=clock,
                     run_background_jobs=False)
    with pytest.raises(SecretKeyError, match="does not exist"), TestClient(app):
        pass
    assert not missing.exists()
    # A malformed key is refused before anything else.
    with pytest.raises(SecretKeyError, match="key 2 of 2 is not a Fernet key"):
        create_app(Settings(database_url=url, secret_key=f"{OLD},not-a-key"))
    assert raw(url) == before  # no new signing secret was made in place of the old
    for h in harness(url, clock, secret_key=f"{NEW},{OLD}"):  # the old key among them
        assert signing_secret(h) == key


def test_a_secret_the_key_cannot_open_is_a_clear_503_and_in_health(
        url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    with RecordingServer() as srv:
        for h in harness(url, clock, secret_key=OLD):
            channel_id = hook(h, srv)
            key = signing_secret(h)
            token = links.sign(key, 1, "acknowledge", clock.now())
            assert check(h.ctx).ok
            good = raw(url)
            # Another node, with another key, wrote these (a key not shared, or a
            # rotation this node was not given the new key of).
            other = secrets_at_rest.Keyring(keys=OTHER)
            with h.ctx.db.write() as s:
                row = s.get(NotificationChannel, channel_id)
                assert row is not None
                row.config = {**row.config, "headers": {
                    "Authorization": other.encrypt(BEARER)}}
                s.execute(text("UPDATE app_secrets SET value = :v"),
                          {"v": other.encrypt(key.decode())})
            caplog.set_level(logging.ERROR)
            sent = h.client.post(f"/api/v1/channels/{channel_id}/test", headers=h.auth,
                                 json={"address": ""})
            assert sent.status_code == 503, sent.text
            assert sent.json()["error"]["code"] == "secret_key"
            assert "cannot be decrypted with VIGIL_SECRET_KEY" in sent.json()["error"]["message"]
            link = h.client.get(f"/a/{token}")
            assert link.status_code == 503 and "cannot be decrypted" in link.text
            # Listing still answers, the unreadable value shown as the mask alone.
            (shown,) = h.client.get("/api/v1/channels", headers=h.auth).json()
            assert shown["config"]["headers"] == {"Authorization": MASK}
            assert any("secrets at rest" in r.getMessage() and "cannot be decrypted"
                       in r.getMessage() for r in caplog.records)
            health = h.client.get("/health")
            assert health.status_code == 503
            assert any("secrets at rest" in r and "cannot be decrypted" in r
                       for r in health.json()["reasons"])
            # The page waits (not sent, not dead) until the key is right.
            page(h, "Down")
            with pytest.raises(SecretKeyError):
                run_once(h.ctx)  # the signing secret of its links cannot be read
            with h.ctx.db.write() as s:
                s.execute(text("UPDATE app_secrets SET value = :v"), {"v": good[1][0]})
            run_once(h.ctx)
            assert srv.requests == []
            (d,) = h.client.get("/api/v1/deliveries", headers=h.auth).json()
            assert d["status"] == "pending" and "cannot be decrypted" in d["last_error"]
            # Fixed (the right value back): healthy again, and the page goes out.
            with h.ctx.db.write() as s:
                s.execute(text("UPDATE notification_channels SET config = :c"),
                          {"c": good[0][0]})
            assert h.client.get("/health").status_code == 200
            clock.advance(minutes=3)
            assert run_once(h.ctx).counts["sent"] == 1
            assert srv.wait()[0].headers["authorization"] == BEARER
