"""The world the paging journey (test_paging_state_machine.py) runs in, made once per database.

The set-up through the public API (a user with a webhook contact method and a high-urgency
rule, the personal webhook channel, a two-step policy that repeats, the service using it,
correlation rules resolving on all, first and last), a fresh copy of it for each example
(an SQLite backup, or the PostgreSQL schema with every non-configuration table truncated),
and what the journey records: the server log's errors, firing episodes and pages.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from channel_servers import RecordingServer
from conftest import _pg_conninfo
from vigil.app import create_app
from vigil.auth.service import create_api_key
from vigil.clock import FakeClock
from vigil.config import Settings
from vigil.context import Context
from vigil.integrations.service import create_integration
from vigil.tenants.models import DEFAULT_TENANT_ID

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SERVICE = "checkout"
SOURCE = "alertmanager"  # who resolved an alert its source resolved
POLICY = "checkout-oncall"
#: One correlation rule per alert name, one incident per rule at a time (group by name).
RESOLVE_ON = {"GroupAll": "all", "GroupFirst": "first", "GroupLast": "last"}
ALERTS = [(name, instance) for name in RESOLVE_ON for instance in ("a", "b")]
INTENT = "notification.intent"  # the escalation engine's outbox topic
#: Statuses during which nothing may be paged.
OVER = ("resolved", "merged", "closed", "deleted")


class ErrorLog(logging.Handler):
    """What Vigil logs at ERROR or above (with its traceback) while an example runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


#: Each outbox consumer's cursor and (at least) the topics it reads: the escalation engine
#: incidents' announcements and status changes, the notifier those and the engine's intents.
CONSUMERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("escalation", ("incident.created", "incident.status_changed")),
    ("delivery", (INTENT, "incident.created", "incident.status_changed")),
)


@dataclass
class Episode:
    """One firing episode of an incident, and what paged for it."""

    incident_id: int
    number: int
    cause: str  # "created", "reopened by an alert", "reopened by a person", ...
    began: str  # the step that began it
    ended: str | None = None
    step1_intents: list[str] = field(default_factory=list)  # their keys
    step1_pages: list[str] = field(default_factory=list)


@dataclass
class Page:
    """A request the receiver got, and what was true when it was sent."""

    incident_id: int | None
    number: int | None
    event: str
    key: str
    status_in_body: str | None
    status_at_send: str | None
    after: str  # the step whose passes sent it


#: What the set-up makes (kept between examples); every other table starts empty.
CONFIG_TABLES = ("alembic_version", "tenants", "api_keys", "app_secrets", "integrations",
                 "users", "contact_methods", "notification_rules", "notification_channels",
                 "escalation_policies", "services", "correlation_rules")


def _api(client: TestClient, key: str, method: str, path: str, body: Any = None) -> Any:
    return client.request(method, path, json=body, headers={"Authorization": f"Bearer {key}"})


def _made(client: TestClient, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = _api(client, key, "POST", path, body)
    assert resp.status_code == 201, (path, resp.text)
    out: dict[str, Any] = resp.json()
    return out


def set_up(client: TestClient, key: str, receiver: str) -> None:
    """Through the public API: alice, paged by webhook at high urgency; the personal webhook
    channel; a two-step policy that repeats once; the service using it; one correlation rule
    per ``resolve_on`` (all, first, last)."""
    user = _made(client, key, "/api/v1/users", {"username": "alice", "name": "Alice",
                                                "email": "alice@example.com"})
    method = _made(client, key, f"/api/v1/users/{user['id']}/contact-methods", {
        "type": "webhook", "address": f"{receiver}/alice", "label": "hook"})
    _made(client, key, f"/api/v1/users/{user['id']}/notification-rules", {
        "contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
    _made(client, key, "/api/v1/channels", {
        "name": "pages", "kind": "webhook", "personal": True, "rate_per_minute": 1000,
        "config": {"url": f"{receiver}/pages"}})
    _made(client, key, "/api/v1/escalation-policies", {
        "name": POLICY, "repeat": 1,
        "steps": [{"delay": 0, "targets": [{"user": "alice"}]},
                  {"delay_minutes": 5, "targets": [{"user": "alice"}]}]})
    _made(client, key, "/api/v1/services", {"name": SERVICE, "escalation_policy": POLICY})
    for n, (name, resolve_on) in enumerate(RESOLVE_ON.items()):
        _made(client, key, "/api/v1/correlation-rules", {
            "name": f"resolve-on-{resolve_on}", "position": n + 1,
            "condition": f'name == "{name}"', "group_by": ["name"], "resolve_on": resolve_on})


@dataclass
class World:
    """The set-up database (made once per test) and the receiver its pages go to; ``fresh``
    gives each example a database as the set-up left it."""

    receiver: RecordingServer
    admin: str
    am_key: str
    fresh: Callable[[int], str]


def make_world(db_url: str, tmp_path: Path, template: Path,
               receiver: RecordingServer) -> World:
    if db_url.startswith("sqlite"):
        configured = tmp_path / "configured.db"
        shutil.copy(template, configured)
        db_url = f"sqlite:///{configured}"
    app = create_app(Settings(database_url=db_url), clock=FakeClock(START),
                     run_background_jobs=False)
    ctx: Context = app.state.ctx
    with ctx.db.write() as s:
        _, admin = create_api_key(s, tenant_id=DEFAULT_TENANT_ID, name="admin", role="admin",
                                  now=START)
        _, am_key = create_integration(s, tenant_id=DEFAULT_TENANT_ID, name="am",
                                       type="alertmanager", now=START)
    with TestClient(app) as client:
        set_up(client, admin, receiver.url)
    if db_url.startswith("sqlite"):
        def sqlite(n: int) -> str:
            target = tmp_path / f"example-{n}.db"
            with closing(sqlite3.connect(configured)) as src, \
                    closing(sqlite3.connect(target)) as dst:
                src.backup(dst)
            key = configured.with_name(configured.name + ".key")  # secrets at rest
            if key.exists():
                shutil.copy(key, target.with_name(target.name + ".key"))
            return f"sqlite:///{target}"
        return World(receiver, admin, am_key, sqlite)
    schema = db_url.rsplit("%3D", 1)[1]

    def postgresql(n: int) -> str:
        with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
                if r[0] not in CONFIG_TABLES]
            conn.execute(f"TRUNCATE {', '.join(f'{schema}.{t}' for t in tables)} "
                         "RESTART IDENTITY")
            conn.execute(f"UPDATE {schema}.tenants SET incident_seq = 0")
        return db_url
    return World(receiver, admin, am_key, postgresql)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
