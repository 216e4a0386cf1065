"""Integration keys are shown once (create, rotate-key), then only their last characters;
the database holds their SHA-256 alone; rotation with an optional grace period; migration
0020 hashes existing keys. Real SQLite and PostgreSQL, time through the fake clock."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from conftest import PG_URL, Harness, _pg_conninfo, need_postgres, with_schema
from vigil import migrate
from vigil.cli import app as cli
from vigil.db import Database
from vigil.integrations.service import MAX_GRACE_SECONDS

FIRING = {"version": "4", "status": "firing",
          "alerts": [{"status": "firing", "labels": {"alertname": "KeyTest"}}]}


def create(h: Harness, kind: str = "alertmanager", name: str = "prod") -> dict[str, Any]:
    resp = h.client.post("/api/v1/integrations", headers=h.auth,
                         json={"name": name, "type": kind})
    assert resp.status_code == 201, resp.text
    made: dict[str, Any] = resp.json()
    return made


def rotate(h: Harness, iid: int, expect: int = 200, **params: Any) -> dict[str, Any]:
    resp = h.client.post(f"/api/v1/integrations/{iid}/rotate-key", headers=h.auth,
                         params=params)
    assert resp.status_code == expect, resp.text
    out: dict[str, Any] = resp.json()
    return out


def send(h: Harness, key: str) -> int:
    return h.client.post(f"/api/v1/ingest/alertmanager/{key}", json=FIRING).status_code


def pd_send(h: Harness, key: str) -> int:
    return h.client.post("/v2/enqueue", json={
        "routing_key": key, "event_action": "trigger", "dedup_key": "disk",
        "payload": {"summary": "Disk full", "source": "db-1", "severity": "critical"},
    }).status_code


def og_send(h: Harness, key: str) -> int:
    return h.client.post("/v2/alerts", json={"message": "Disk full", "alias": "disk"},
                         headers={"Authorization": f"GenieKey {key}"}).status_code


def raw_rows(h: Harness) -> list[dict[str, Any]]:
    with h.ctx.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM integrations"))]


# --- shown once ---------------------------------------------------------------------------

def test_create_shows_the_key_once_with_its_url(vigil: Harness) -> None:
    made = create(vigil)
    key = made["key"]
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert made["key_hint"] == key[-4:]
    assert made["key_url"].endswith(f"/api/v1/ingest/alertmanager/{key}")
    assert made["url"].endswith("/api/v1/ingest/alertmanager")
    assert send(vigil, key) == 202
    assert vigil.client.post(made["key_url"].removeprefix(vigil.ctx.settings.base_url),
                             json=FIRING).status_code == 202
    pd = create(vigil, "pagerduty", "pd")
    assert pd["key_url"] == pd["url"] and pd["url"].endswith("/v2/enqueue")
    assert pd_send(vigil, pd["key"]) == 202


@pytest.mark.parametrize("role", ["viewer", "responder", "admin"])
def test_list_and_get_show_only_the_last_characters(vigil: Harness, role: str) -> None:
    made = create(vigil)
    headers = {"Authorization": f"Bearer {vigil.key_for(role)}"}
    listed = vigil.client.get("/api/v1/integrations", headers=headers)
    one = vigil.client.get(f"/api/v1/integrations/{made['id']}", headers=headers)
    assert listed.status_code == 200 and one.status_code == 200
    every_key = [made["key"], *vigil.keys.values()]
    for resp in (listed, one):
        for key in every_key:
            assert key not in resp.text
    for item in [*listed.json(), one.json()]:
        assert "key" not in item and "key_url" not in item
        assert re.fullmatch(r"[0-9a-f]{4}", item["key_hint"])
    assert one.json()["key_hint"] == made["key"][-4:]
    # ... and so does the answer to a revocation.
    revoked = vigil.client.delete(f"/api/v1/integrations/{made['id']}", headers=vigil.auth)
    assert made["key"] not in revoked.text and "key" not in revoked.json()


def test_the_database_holds_no_plain_key(vigil: Harness) -> None:
    made = create(vigil)
    rotated = rotate(vigil, made["id"], grace_seconds=600)
    rows = raw_rows(vigil)
    assert "key" not in rows[0]
    dump = repr(rows)
    for key in (made["key"], rotated["key"], *vigil.keys.values()):
        assert key not in dump
    row = next(r for r in rows if r["id"] == made["id"])
    assert row["key_hash"] == hashlib.sha256(rotated["key"].encode()).hexdigest()
    assert row["previous_key_hash"] == hashlib.sha256(made["key"].encode()).hexdigest()
    assert row["key_hint"] == rotated["key"][-4:]


# --- rotation -----------------------------------------------------------------------------

def test_rotate_without_grace_stops_the_old_key_at_once(vigil: Harness) -> None:
    made = create(vigil)
    assert send(vigil, made["key"]) == 202  # now cached as good
    new = rotate(vigil, made["id"])
    assert new["id"] == made["id"] and new["key"] != made["key"]
    assert new["key_hint"] == new["key"][-4:] and new["previous_key_expires_at"] is None
    assert send(vigil, made["key"]) == 401
    assert send(vigil, new["key"]) == 202
    listed = vigil.client.get(f"/api/v1/integrations/{made['id']}", headers=vigil.auth).json()
    assert listed["key_hint"] == new["key"][-4:]


def test_rotate_with_grace_keeps_the_old_key_until_it_expires(vigil: Harness) -> None:
    made = create(vigil)
    assert send(vigil, made["key"]) == 202
    new = rotate(vigil, made["id"], grace_seconds=3600)
    assert new["previous_key_expires_at"] == "2026-03-01T13:00:00Z"
    got = vigil.client.get(f"/api/v1/integrations/{made['id']}", headers=vigil.auth).json()
    assert got["previous_key_expires_at"] == "2026-03-01T13:00:00Z"
    assert send(vigil, made["key"]) == 202  # queried: works, cached with its expiry
    assert send(vigil, new["key"]) == 202
    vigil.clock.advance(seconds=3599)
    assert send(vigil, made["key"]) == 202  # cached
    vigil.clock.advance(seconds=1)
    assert send(vigil, made["key"]) == 401  # still cached, but expired
    vigil.ctx.integrations.forget(hashlib.sha256(made["key"].encode()).hexdigest())
    assert send(vigil, made["key"]) == 401  # and the database agrees
    assert send(vigil, new["key"]) == 202
    got = vigil.client.get(f"/api/v1/integrations/{made['id']}", headers=vigil.auth).json()
    assert got["previous_key_expires_at"] is None


def test_a_second_rotation_stops_the_key_in_its_grace_period(vigil: Harness) -> None:
    first = create(vigil)
    second = rotate(vigil, first["id"], grace_seconds=MAX_GRACE_SECONDS)
    assert send(vigil, first["key"]) == 202
    third = rotate(vigil, first["id"], grace_seconds=60)
    assert send(vigil, first["key"]) == 401
    assert send(vigil, second["key"]) == 202 and send(vigil, third["key"]) == 202
    vigil.clock.advance(seconds=61)
    assert send(vigil, second["key"]) == 401 and send(vigil, third["key"]) == 202


def test_pagerduty_and_opsgenie_keys_rotate_with_grace(vigil: Harness) -> None:
    for kind, post in (("pagerduty", pd_send), ("opsgenie", og_send)):
        old = vigil.keys[kind]
        new = rotate(vigil, vigil.integration_ids[kind], grace_seconds=86400)["key"]
        assert post(vigil, old) == 202 and post(vigil, new) == 202
    vigil.clock.advance(days=1)
    assert pd_send(vigil, vigil.keys["pagerduty"]) == 400  # PagerDuty's own error shape
    assert og_send(vigil, vigil.keys["opsgenie"]) == 401


def test_revoking_stops_both_keys(vigil: Harness) -> None:
    made = create(vigil)
    new = rotate(vigil, made["id"], grace_seconds=3600)
    assert send(vigil, made["key"]) == 202 and send(vigil, new["key"]) == 202
    assert vigil.client.delete(f"/api/v1/integrations/{made['id']}",
                               headers=vigil.auth).status_code == 200
    assert send(vigil, made["key"]) == 401 and send(vigil, new["key"]) == 401
    resp = vigil.client.post(f"/api/v1/integrations/{made['id']}/rotate-key",
                             headers=vigil.auth)
    assert resp.status_code == 409 and resp.json()["error"]["field"] == "id"


@pytest.mark.parametrize("grace", ["-1", str(MAX_GRACE_SECONDS + 1), str(2**64), "soon", "1.5"])
def test_bad_grace_is_a_422_naming_it_and_changes_nothing(vigil: Harness, grace: str) -> None:
    iid = vigil.integration_ids["alertmanager"]
    resp = vigil.client.post(f"/api/v1/integrations/{iid}/rotate-key", headers=vigil.auth,
                             params={"grace_seconds": grace})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == "grace_seconds"
    assert send(vigil, vigil.keys["alertmanager"]) == 202


def test_rotation_is_for_admins_of_the_integrations_tenant(vigil: Harness) -> None:
    iid = vigil.integration_ids["alertmanager"]
    for role in ("viewer", "responder"):
        resp = vigil.client.post(f"/api/v1/integrations/{iid}/rotate-key",
                                 headers={"Authorization": f"Bearer {vigil.key_for(role)}"})
        assert resp.status_code == 403
    assert vigil.client.post(f"/api/v1/integrations/{iid}/rotate-key").status_code == 401
    assert vigil.client.post("/api/v1/integrations/999/rotate-key",
                             headers=vigil.auth).status_code == 404
    assert send(vigil, vigil.keys["alertmanager"]) == 202


# --- the CLI --------------------------------------------------------------------------------

def test_cli_shows_keys_once_and_rotates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    made = runner.invoke(cli, ["keys", "create", "--name", "prom", "--integration",
                               "alertmanager"])
    found = re.search(r"integration 1 \(alertmanager\) key: ([0-9a-f]{32})", made.output)
    assert found, made.output
    key = found[1]
    listed = runner.invoke(cli, ["keys", "list"]).output
    assert key not in listed and f"...{key[-4:]}" in listed
    rotated = runner.invoke(cli, ["keys", "rotate", "integration:1", "--grace-seconds", "60"])
    assert rotated.exit_code == 0, rotated.output
    new = re.search(r"new key: ([0-9a-f]{32})", rotated.output)
    assert new and new[1] != key and "the old key works until" in rotated.output
    assert f"...{new[1][-4:]}" in runner.invoke(cli, ["keys", "list"]).output
    bad = runner.invoke(cli, ["keys", "rotate", "integration:1", "--grace-seconds", "-5"])
    assert bad.exit_code == 2 and "grace_seconds" in bad.output
    assert runner.invoke(cli, ["keys", "rotate", "api:1"]).exit_code == 2


# --- migration 0020 ---------------------------------------------------------------------------

def _alembic(engine: Engine, action: str, revision: str) -> None:
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def bare_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of its own, migrated by the test."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'mig.db'}")
        yield database
        database.dispose()
        return
    need_postgres()
    schema = f"vigil_keys_{os.getpid()}"
    with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    database = Database(with_schema(PG_URL, schema))
    yield database
    database.dispose()
    with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_migration_0020_hashes_existing_keys(bare_db: Database) -> None:
    engine = bare_db.engine
    _alembic(engine, "upgrade", "0019")
    keys = {1: "0123456789abcdef0123456789abcdef", 2: "legacy-key-from-an-old-install"}
    with engine.begin() as conn:
        for iid, key in keys.items():
            conn.execute(text(
                "INSERT INTO integrations (id, tenant_id, name, type, key, config, created_at) "
                "VALUES (:id, 1, :name, 'alertmanager', :key, '{}', '2026-03-01 12:00:00.000000')"
            ), {"id": iid, "name": f"i{iid}", "key": key})
    _alembic(engine, "upgrade", "0020")
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(text("SELECT * FROM integrations"))}
    for iid, key in keys.items():
        row = rows[iid]._mapping
        assert "key" not in row
        assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
        assert row["key_hint"] == key[-4:]
        assert row["previous_key_hash"] is None and row["previous_key_expires_at"] is None
        assert key not in repr(dict(row))
    with engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(text("UPDATE integrations SET key_hash = :h WHERE id = 2"),
                     {"h": rows[1].key_hash})
    # A downgrade cannot bring keys back: each integration gets a new one.
    _alembic(engine, "downgrade", "0019")
    with engine.connect() as conn:
        back = {r.id: r.key for r in conn.execute(text("SELECT id, key FROM integrations"))}
    assert set(back) == {1, 2} and all(re.fullmatch(r"[0-9a-f]{32}", k) for k in back.values())
    assert set(back.values()).isdisjoint(keys.values())
