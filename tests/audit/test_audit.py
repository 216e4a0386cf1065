"""The audit log: configuration changes made through the API are logged with who made them,
when, and the values before and after, secrets masked, in the change's own transaction;
only admins read it (API and UI); old entries are pruned. On both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from conftest import Harness
from ui_session import add_user, sign_in
from vigil import configfiles
from vigil.audit import capture
from vigil.audit.models import AuditEntry
from vigil.audit.service import purge, record
from vigil.auth.models import User
from vigil.errors import InvalidInput
from vigil.muting.models import Silence
from vigil.notify.service import MASK
from vigil.tenants.models import DEFAULT_TENANT_ID

AUDIT = "/api/v1/audit"
HEADER_SECRET = "Bearer HeaderBearerSecret4242"
URL_SECRET = "UrlQueryTokenSecret77"


def baseline(h: Harness) -> int:
    """The newest entry's id (PostgreSQL keeps the table between tests)."""
    with h.ctx.db.read() as s:
        return int(s.scalar(select(func.max(AuditEntry.id))) or 0)


def entries(h: Harness, since_id: int, **params: Any) -> list[dict[str, Any]]:
    """Every entry after ``since_id`` through the API, oldest first, following cursors."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        resp = h.client.get(AUDIT, headers=h.auth,
                            params={**params, "limit": 2, **({"cursor": cursor} if cursor
                                                              else {})})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        out.extend(e for e in body["items"] if e["id"] > since_id)
        cursor = body["next_cursor"]
        if cursor is None:
            return sorted(out, key=lambda e: e["id"])


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_silence_create_and_expire_are_logged_with_the_key_that_did_them(
        vigil: Harness) -> None:
    start = baseline(vigil)
    responder = bearer(vigil.key_for("responder"))  # named "responder key"
    made = vigil.client.post("/api/v1/silences", headers=responder, json={
        "matchers": ["service=db"], "duration_minutes": 60, "comment": "disk swap"})
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    vigil.clock.advance(minutes=5)
    expired = vigil.client.delete(f"/api/v1/silences/{sid}", headers=responder)
    assert expired.status_code == 200, expired.text

    log = entries(vigil, start, target_type="silence")
    assert [(e["action"], e["target"], e["actor"]) for e in log] == [
        ("create", f"silence:{sid}", "apikey:responder key"),
        ("update", f"silence:{sid}", "apikey:responder key")]
    create, update = log
    assert create["before"] is None
    assert create["after"]["comment"] == "disk swap"
    assert create["after"]["matchers"] == made.json()["matchers"]
    assert create["occurred_at"].startswith("2026-03-01T12:00:00")
    assert update["occurred_at"].startswith("2026-03-01T12:05:00")
    assert update["before"]["ends_at"].startswith("2026-03-01T13:00:00")
    assert update["after"]["ends_at"].startswith("2026-03-01T12:05:00")
    assert update["before"]["comment"] == update["after"]["comment"] == "disk swap"
    assert create["address"] == "testclient"


def test_channel_changes_are_logged_without_its_secrets(vigil: Harness) -> None:
    start = baseline(vigil)
    config = {"url": f"https://hooks.example.com/in?token={URL_SECRET}",
              "headers": {"Authorization": HEADER_SECRET}}
    made = vigil.client.post("/api/v1/channels", headers=vigil.auth, json={
        "name": "ops-hook", "kind": "webhook", "config": config})
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    put = vigil.client.put(f"/api/v1/channels/{cid}", headers=vigil.auth, json={
        "name": "ops-hook", "kind": "webhook", "rate_per_minute": 7,
        "config": {**config, "headers": {"Authorization": "Bearer AnotherSecret5151"}}})
    assert put.status_code == 200, put.text
    assert vigil.client.delete(f"/api/v1/channels/{cid}", headers=vigil.auth).status_code \
        == 204

    log = entries(vigil, start, target_type="channel")
    assert [(e["action"], e["target"], e["actor"]) for e in log] == [
        ("create", f"channel:{cid}", "apikey:test admin"),
        ("update", f"channel:{cid}", "apikey:test admin"),
        ("delete", f"channel:{cid}", "apikey:test admin")]
    create, update, delete = log
    assert create["after"]["name"] == "ops-hook"
    assert create["after"]["config"]["headers"]["Authorization"].startswith(MASK)
    assert (update["before"]["rate_per_minute"], update["after"]["rate_per_minute"]) == (60, 7)
    assert delete["before"]["name"] == "ops-hook" and delete["after"] is None
    # Nowhere: not in the API's answers, not in the table itself.
    with vigil.ctx.db.read() as s:
        stored = orjson.dumps([(e.before, e.after) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.id > start))]).decode()
    answered = vigil.client.get(AUDIT, headers=vigil.auth).text
    for text in (stored, answered):
        for secret in ("HeaderBearerSecret4242", URL_SECRET, "AnotherSecret5151"):
            assert secret not in text
        assert MASK in text


def test_correlation_rule_changes_are_logged_and_a_refused_change_logs_nothing(
        vigil: Harness) -> None:
    start = baseline(vigil)
    rules = "/api/v1/correlation-rules"
    made = vigil.client.post(rules, headers=vigil.auth, json={
        "name": "prod", "condition": 'labels.env == "prod"'})
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    refused = vigil.client.patch(f"{rules}/{rid}", headers=vigil.auth,
                                 json={"condition": "1 +", "position": 5})
    assert refused.status_code == 422, refused.text
    ok = vigil.client.patch(f"{rules}/{rid}", headers=vigil.auth,
                            json={"condition": 'labels.env == "staging"'})
    assert ok.status_code == 200, ok.text
    assert vigil.client.delete(f"{rules}/{rid}", headers=vigil.auth).status_code == 204

    log = entries(vigil, start, target_type="correlation_rule")
    assert [(e["action"], e["actor"]) for e in log] == [
        ("create", "apikey:test admin"), ("update", "apikey:test admin"),
        ("delete", "apikey:test admin")]
    assert {e["target"] for e in log} == {f"correlation_rule:{rid}"}
    update = log[1]
    assert update["before"]["condition"] == 'labels.env == "prod"'
    assert update["after"]["condition"] == 'labels.env == "staging"'
    assert update["before"]["position"] == update["after"]["position"]  # the refused 5: no


def test_an_entry_commits_with_its_change_or_not_at_all(vigil: Harness) -> None:
    start = baseline(vigil)
    now = vigil.clock.now()

    def count() -> tuple[int, int]:
        with vigil.ctx.db.read() as s:
            return (int(s.scalar(select(func.count(AuditEntry.id))
                                 .where(AuditEntry.id > start)) or 0),
                    int(s.scalar(select(func.count(Silence.id))
                                 .where(Silence.comment == "half")) or 0))

    with (pytest.raises(InvalidInput), capture.acting_as("apikey:someone"),
          vigil.ctx.db.write() as s):
        s.add(Silence(tenant_id=DEFAULT_TENANT_ID, matchers=[], starts_at=now,
                      ends_at=now, comment="half", created_by="x", created_at=now))
        s.flush()
        written = s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.id > start))
        assert written == 1  # in the transaction, with the silence ...
        raise InvalidInput("refused after the write", field="x")
    assert count() == (0, 0)  # ... and gone with it
    with vigil.ctx.db.write() as s:
        record(s, tenant_id=DEFAULT_TENANT_ID, actor="user:alice", action="sign_in",
               target="user:alice", before=None, after={"password": "hunter2-secret"},
               now=now, address="192.0.2.1")
    log = entries(vigil, start, action="sign_in")
    assert [(e["actor"], e["address"], e["after"]) for e in log] == [
        ("user:alice", "192.0.2.1", {"password": MASK})]


def test_only_admins_read_the_log(vigil: Harness) -> None:
    for role in ("viewer", "responder"):
        resp = vigil.client.get(AUDIT, headers=bearer(vigil.key_for(role)))
        assert resp.status_code == 403, resp.text
    assert vigil.client.get(AUDIT).status_code == 401
    assert vigil.client.get(AUDIT, headers=vigil.auth).status_code == 200
    bad = vigil.client.get(AUDIT, headers=vigil.auth, params={"cursor": "bogus"})
    assert bad.status_code == 422 and "cursor" in bad.text


def test_filters_by_actor_action_and_time(vigil: Harness) -> None:
    start = baseline(vigil)
    responder = bearer(vigil.key_for("responder"))
    for minutes in (0, 10, 20):
        vigil.clock.set(vigil.clock.now().replace(minute=minutes))
        assert vigil.client.post("/api/v1/silences", headers=responder, json={
            "matchers": ["a=b"], "duration_minutes": 5, "comment": str(minutes)}
        ).status_code == 201
    mine = entries(vigil, start, actor="apikey:responder key", action="create")
    assert [e["after"]["comment"] for e in mine] == ["0", "10", "20"]
    window = entries(vigil, start, target_type="silence", since="2026-03-01T12:05:00Z",
                     until="2026-03-01T12:20:00Z")
    assert [e["after"]["comment"] for e in window] == ["10"]
    assert entries(vigil, start, actor="apikey:test admin", target_type="silence") == []


def test_admin_page_shows_the_entries_as_a_diff(vigil: Harness) -> None:
    add_user(vigil, "root", "admin")
    add_user(vigil, "eve", "responder")
    rid = vigil.client.post("/api/v1/correlation-rules", headers=vigil.auth, json={
        "name": "page-rule", "condition": "true"}).json()["id"]
    assert vigil.client.patch(f"/api/v1/correlation-rules/{rid}", headers=vigil.auth,
                              json={"description": "now described"}).status_code == 200
    sign_in(vigil, "eve")
    assert vigil.client.get("/ui/audit").status_code == 403
    vigil.client.cookies.clear()
    sign_in(vigil, "root")
    resp = vigil.client.get("/ui/audit", params={"target_type": "correlation_rule"})
    assert resp.status_code == 200, resp.text
    html = resp.text
    assert f"correlation_rule:{rid}" in html and "apikey:test admin" in html
    assert "<del>(empty)</del> → <ins>now described</ins>" in html
    assert 'href="/ui/audit"' in vigil.client.get("/ui").text  # the admin's nav link


def test_config_files_and_the_cli_name_themselves(vigil: Harness, tmp_path: Path) -> None:
    start = baseline(vigil)
    (tmp_path / "rules.yaml").write_text(
        "kind: CorrelationRule\nname: from-file\ncondition: 'true'\n")
    docs = configfiles.load([tmp_path / "rules.yaml"])
    with vigil.ctx.db.write() as s:
        configfiles.apply(s, docs, tenant_id=DEFAULT_TENANT_ID, now=vigil.clock.now())
    with capture.acting_as(capture.CLI, clock=vigil.clock), vigil.ctx.db.write() as s:
        from vigil.auth.service import create_api_key
        create_api_key(s, tenant_id=DEFAULT_TENANT_ID, name="ci", role="viewer",
                       now=vigil.clock.now())
    log = entries(vigil, start)
    assert [(e["target_type"], e["actor"]) for e in log] == [
        ("correlation_rule", "system:config-file"), ("api_key", "cli")]
    assert log[1]["after"]["key_hash"] == MASK


def test_the_actor_follows_the_request_into_the_threadpool() -> None:
    async def main() -> tuple[str, str]:
        capture.set_actor("apikey:x")
        inside = await run_in_threadpool(lambda: capture.current().actor)
        return inside, capture.current().actor

    assert anyio.run(main) == ("apikey:x", "apikey:x")
    assert capture.current().actor == capture.SYSTEM  # that context's, not this one's


def test_entries_past_retention_are_pruned(vigil: Harness) -> None:
    start = baseline(vigil)
    now = vigil.clock.now()
    with vigil.ctx.db.write() as s:
        for days in (400, 10):
            record(s, tenant_id=DEFAULT_TENANT_ID, actor="cli", action="update",
                   target=f"silence:{days}", before=None, after=None,
                   now=now - timedelta(days=days))
    assert purge(vigil.ctx.db, now=now, retention_days=365) >= 1
    assert [e["target"] for e in entries(vigil, start)] == ["silence:10"]


def test_a_cli_command_is_logged_as_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from vigil.cli import app
    from vigil.db import Database

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("VIGIL_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    made = runner.invoke(app, ["keys", "create", "--name", "deploy", "--role", "viewer"])
    assert made.exit_code == 0, made.output
    raw = made.output.rsplit(" ", 1)[1].strip()
    db = Database(url)
    try:
        with db.read() as s:
            rows = [(e.actor, e.action, e.target_type, e.after) for e in s.scalars(
                select(AuditEntry))]
    finally:
        db.dispose()
    assert [r[:3] for r in rows] == [("cli", "create", "api_key")]
    after = rows[0][3]
    assert after is not None and after["name"] == "deploy" and after["key_hash"] == MASK
    assert raw not in str(rows)
    assert capture.current().actor == capture.SYSTEM  # not left set once the command ended


def test_people_changes_are_logged_by_username_without_password_hashes(
        vigil: Harness) -> None:
    start = baseline(vigil)
    made = vigil.client.post("/api/v1/users", headers=vigil.auth, json={
        "username": "dana", "name": "Dana", "email": "dana@example.com"})
    assert made.status_code == 201, made.text
    uid = made.json()["id"]
    assert vigil.client.patch(f"/api/v1/users/{uid}", headers=vigil.auth,
                              json={"role": "admin"}).status_code == 200
    assert vigil.client.put(f"/api/v1/users/{uid}/password", headers=vigil.auth,
                            json={"password": "correct-horse-battery"}).status_code == 204
    log = [e for e in entries(vigil, start, target_type="user") if e["target"] == "user:dana"]
    assert [(e["action"], e["actor"]) for e in log][:3] == [
        ("create", "apikey:test admin"), ("update", "apikey:test admin"),
        ("update", "apikey:test admin")]
    created, promoted, password = log[:3]
    assert created["after"]["ical_token"] == MASK  # the calendar feed's secret
    assert (promoted["before"]["role"], promoted["after"]["role"]) == ("responder", "admin")
    assert (password["before"]["password_hash"], password["after"]["password_hash"]) == (
        None, MASK)
    with vigil.ctx.db.read() as s:
        hashed = s.scalar(select(User.password_hash).where(User.id == uid))
    assert hashed and hashed not in orjson.dumps(log).decode()
    # Deleting the person deletes their contact methods in bulk: each is logged.
    method = vigil.client.post(f"/api/v1/users/{uid}/contact-methods", headers=vigil.auth,
                               json={"type": "email", "address": "dana@example.com"})
    assert method.status_code == 201, method.text
    mark = baseline(vigil)
    assert vigil.client.delete(f"/api/v1/users/{uid}", headers=vigil.auth).status_code == 204
    gone = entries(vigil, mark)
    assert sorted((e["action"], e["target"]) for e in gone) == [
        ("delete", f"contact_method:{method.json()['id']}"), ("delete", "user:dana")]
    assert {e["actor"] for e in gone} == {"apikey:test admin"}
    method_entry = next(e for e in gone if e["target_type"] == "contact_method")
    assert method_entry["before"]["address"] == "dana@example.com"
