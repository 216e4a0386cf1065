"""The ``vigil`` command: migrate, keys, version, simulate."""

from __future__ import annotations

import re
import shutil
import signal
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from server import start_server
from vigil import __version__, migrate
from vigil.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("VIGIL_DATABASE_URL", f"sqlite:///{db}")
    return db


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.strip() == __version__


def test_migrate_then_keys_create_list_revoke(env: Path) -> None:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert runner.invoke(app, ["migrate"]).output.startswith(f"database at revision {head}")
    again = runner.invoke(app, ["migrate"])  # idempotent
    assert again.exit_code == 0

    made = runner.invoke(app, ["keys", "create", "--name", "ci", "--role", "responder"])
    assert made.exit_code == 0, made.output
    assert re.search(r"API key 1 \(responder\): vgl_\S{20,}", made.output)
    integ = runner.invoke(app, ["keys", "create", "--name", "prom", "--integration",
                                "alertmanager"])
    assert re.search(r"integration 1 \(alertmanager\) key: [0-9a-f]{32}", integ.output)

    listed = runner.invoke(app, ["keys", "list"]).output
    assert "api:1" in listed and "responder" in listed and "active" in listed
    assert "integration:1" in listed and "alertmanager" in listed

    assert runner.invoke(app, ["keys", "revoke", "api:1"]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list"]).output


def test_bad_cli_input_exits_2_with_a_reason(env: Path) -> None:
    runner.invoke(app, ["migrate"])
    bad_type = runner.invoke(app, ["keys", "create", "--name", "x", "--integration", "zabbix"])
    assert bad_type.exit_code == 2 and "type must be one of" in bad_type.output
    bad_role = runner.invoke(app, ["keys", "create", "--name", "x", "--role", "root"])
    assert bad_role.exit_code == 2 and "role must be one of" in bad_role.output
    assert runner.invoke(app, ["keys", "revoke", "nonsense"]).exit_code == 2
    assert runner.invoke(app, ["keys", "revoke", "api:99"]).exit_code == 2
    assert runner.invoke(app, ["simulate", "--mode", "chaos", "--token", "x"]).exit_code == 2


@pytest.mark.parametrize(("mode", "rounds", "expect"), [
    ("latency", 2, lambda a: len(a) == 5 and {x["name"] for x in a} == {"HighLatency"}),
    ("errors", 2, lambda a: len(a) == 5 and all(x["status"] == "resolved" for x in a)),
    ("meltdown", 3, lambda a: any(x["name"] == "PostgresDown" for x in a)
     and sum(x["name"] == "PodCrashLooping" for x in a) == 15),
    # fire, resolve, fire, resolve: each firing after a resolve is a new alert
    ("flapping", 4, lambda a: len(a) == 2 and all(x["status"] == "resolved" for x in a)),
])
def test_simulate_sends_a_realistic_burst(mode: str, rounds: int, expect: object,
                                          tmp_path: Path, sqlite_template: Path) -> None:
    db = tmp_path / "vigil.db"
    shutil.copy(sqlite_template, db)
    server = start_server(f"sqlite:///{db}", tmp_path)
    try:
        result = runner.invoke(app, ["simulate", "--url", server.url, "--token",
                                     server.integration_key or "", "--mode", mode,
                                     "--rounds", str(rounds), "--interval", "0"])
        assert result.exit_code == 0, result.output
        assert "requests by status: {202:" in result.output
        alerts = httpx.get(f"{server.url}/api/v1/alerts", params={"limit": 100},
                           headers={"Authorization": f"Bearer {server.api_key}"}).json()["items"]
        assert callable(expect) and expect(alerts), alerts
    finally:
        server.kill(signal.SIGTERM)


RULES_YAML = """\
kind: CorrelationRule
name: prod-by-cluster
condition: labels.env == "prod" && severity in ["critical", "high"]
group_by: [labels.cluster]
title_template: "{{ labels.cluster }}: {{ name }}"
---
kind: CorrelationRule
name: db-team
condition: labels.team == "db"
category: database
team: dba
threshold_alerts: 3
"""


def test_apply_is_idempotent_and_export_round_trips(env: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "rules.yaml").write_text(RULES_YAML)
    first = runner.invoke(app, ["apply", "-f", str(folder)])
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == ["CorrelationRule/prod-by-cluster: created",
                                         "CorrelationRule/db-team: created"]
    again = runner.invoke(app, ["apply", "-f", str(folder)])
    assert again.output.splitlines() == ["CorrelationRule/prod-by-cluster: unchanged",
                                         "CorrelationRule/db-team: unchanged"]
    exported = runner.invoke(app, ["export"])
    assert exported.exit_code == 0
    assert "name: db-team" in exported.output and "threshold_alerts: 3" in exported.output
    # What export writes, apply takes back unchanged.
    out = tmp_path / "exported.yaml"
    assert runner.invoke(app, ["export", "-o", str(out)]).exit_code == 0
    back = runner.invoke(app, ["apply", "-f", str(out)])
    assert back.output.splitlines() == ["CorrelationRule/prod-by-cluster: unchanged",
                                        "CorrelationRule/db-team: unchanged"]
    (folder / "rules.yaml").write_text(RULES_YAML.replace("threshold_alerts: 3",
                                                          "threshold_alerts: 5"))
    changed = runner.invoke(app, ["apply", "-f", str(folder)])
    assert "CorrelationRule/db-team: updated" in changed.output


@pytest.mark.parametrize(("text", "words"), [
    ("kind: CorrelationRule\nname: x\ncondition: 'labels.env =='\n",
     "rules.yaml#1: condition: invalid CEL"),
    ("kind: CorrelationRule\nname: x\nwindow_minutes: -1\n",
     "rules.yaml#1: window_minutes:"),
    ("kind: Gadget\nname: x\n", "rules.yaml#1: unknown kind 'Gadget'"),
    ("name: x\n", "rules.yaml#1: a document needs a kind"),
    ("kind: [\n", "not valid YAML"),
])
def test_apply_refuses_bad_documents_and_applies_nothing(env: Path, tmp_path: Path,
                                                         text: str, words: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    good = tmp_path / "a-good.yaml"
    good.write_text(RULES_YAML)
    bad = tmp_path / "rules.yaml"
    bad.write_text(text)
    result = runner.invoke(app, ["apply", "-f", str(good), "-f", str(bad)])
    assert result.exit_code == 1
    assert words in result.output
    assert "name:" not in runner.invoke(app, ["export"]).output  # nothing was applied


def test_an_export_applies_to_an_empty_database(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    config = tmp_path / "config.yaml"
    config.write_text("""\
kind: EscalationPolicy
name: sre
steps: [{targets: [{team: sre}]}]
---
kind: Team
name: sre
members: [alice]
---
kind: User
username: alice
name: Alice
email: alice@example.com
""")
    monkeypatch.setenv("VIGIL_DATABASE_URL", f"sqlite:///{first}")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    # Written policy-first, it does not apply (the team does not exist yet) ...
    assert runner.invoke(app, ["apply", "-f", str(config)]).exit_code == 1
    # ... in dependency order it does, and so does what export writes.
    parts = config.read_text().split("---\n")
    config.write_text("---\n".join(reversed(parts)))
    assert runner.invoke(app, ["apply", "-f", str(config)]).exit_code == 0
    out = tmp_path / "exported.yaml"
    assert runner.invoke(app, ["export", "-o", str(out)]).exit_code == 0
    monkeypatch.setenv("VIGIL_DATABASE_URL", f"sqlite:///{second}")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    applied = runner.invoke(app, ["apply", "-f", str(out)])
    assert applied.exit_code == 0, applied.output
    assert "EscalationPolicy/sre: created" in applied.output


def test_outbox_list_and_replay_parked_events(env: Path) -> None:
    from datetime import UTC, datetime

    from vigil.db import Database
    from vigil.outbox.models import OutboxEvent, OutboxFailure

    runner.invoke(app, ["migrate"])
    assert runner.invoke(app, ["outbox", "list"]).output == "No failed outbox events.\n"
    now = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
    db = Database(f"sqlite:///{env}")
    with db.write() as s:
        ev = OutboxEvent(tenant_id=1, topic="incident.status_changed", aggregate="incident:1",
                         payload={}, created_at=now, available_at=now, attempts=0)
        s.add(ev)
        s.flush()
        for consumer, parked in (("escalation", now), ("delivery", None)):
            s.add(OutboxFailure(consumer=consumer, event_id=ev.id, tenant_id=1,
                                topic=ev.topic, attempts=5 if parked else 2,
                                error="Traceback ...\nContractError: previous: not a dict",
                                first_failed_at=now, last_failed_at=now, parked_at=parked,
                                next_attempt_at=None if parked else now))
    db.dispose()
    listed = runner.invoke(app, ["outbox", "list"]).output
    assert "escalation   event 1" in listed and "5 attempts, parked: ContractError" in listed
    assert "delivery" in listed and "2 attempts, retry at 2026-12-07 18:00:00" in listed
    parked = runner.invoke(app, ["outbox", "list", "--state", "parked"]).output
    assert "escalation" in parked and "delivery" not in parked
    assert runner.invoke(app, ["outbox", "list", "--state", "gone"]).exit_code == 2
    done = runner.invoke(app, ["outbox", "replay"])
    assert done.exit_code == 0 and done.output == "Replayed 1 parked event(s).\n"
    assert runner.invoke(app, ["outbox", "list", "--state", "parked"]).output == \
        "No failed outbox events.\n"
    assert runner.invoke(app, ["outbox", "replay", "1"]).output == \
        "Replayed 0 parked event(s).\n"
