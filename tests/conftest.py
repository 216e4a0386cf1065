"""Real databases for every test: SQLite files and, where reachable, PostgreSQL.

PostgreSQL tests are skipped when no server answers, unless VIGIL_TEST_REQUIRE_POSTGRES=1
(set by .ci/run), which turns a missing server into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from vigil import migrate
from vigil.app import create_app
from vigil.auth.service import create_api_key
from vigil.clock import FakeClock
from vigil.config import Settings
from vigil.context import Context
from vigil.db import Database
from vigil.integrations.service import create_integration
from vigil.tenants.models import DEFAULT_TENANT_ID

REQUIRE_PG = os.environ.get("VIGIL_TEST_REQUIRE_POSTGRES") == "1"
PG_URL = os.environ.get(
    "VIGIL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_conninfo() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def pg_available() -> bool:
    try:
        with psycopg.connect(_pg_conninfo(), connect_timeout=3):
            return True
    except Exception:
        return False


def need_postgres() -> None:
    if not pg_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (VIGIL_TEST_REQUIRE_POSTGRES=1) but {PG_URL} "
                        "does not answer")
        pytest.skip(f"no PostgreSQL at {PG_URL}")


def with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated schema of its own in the test database, dropped at the end."""
    need_postgres()
    schema = f"vigil_test_{os.getpid()}"
    with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    url = with_schema(PG_URL, schema)
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()
    yield url
    with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "vigil.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "vigil.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_url")
    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {schema}.alerts, {schema}.alert_events, {schema}.outbox, "
                     f"{schema}.alerts_per_hour, "
                     f"{schema}.api_keys, {schema}.integrations, {schema}.incidents, "
                     f"{schema}.incident_events, {schema}.silences, {schema}.correlation_rules, "
                     f"{schema}.maintenance_windows, {schema}.inhibition_rules, "
                     f"{schema}.flap_states, {schema}.incident_policies, {schema}.users, "
                     f"{schema}.contact_methods, {schema}.notification_rules, {schema}.teams, "
                     f"{schema}.services, {schema}.schedules, {schema}.escalation_policies, "
                     f"{schema}.escalations, {schema}.outbox_cursors, "
                     f"{schema}.notification_channels, {schema}.routing_rules, "
                     f"{schema}.notification_templates, {schema}.deliveries, "
                     f"{schema}.outbox_failures, {schema}.sign_in_attempts, "
                     f"{schema}.setup_tokens, {schema}.audit_entries "
                     "RESTART IDENTITY CASCADE")
        conn.execute(f"UPDATE {schema}.tenants SET incident_seq = 0")
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@dataclass
class Harness:
    """A running Vigil app over a real database, with an admin key and one integration of
    each type."""

    client: TestClient
    clock: FakeClock
    ctx: Context
    admin_key: str
    keys: dict[str, str] = field(default_factory=dict)
    integration_ids: dict[str, int] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def key_for(self, role: str) -> str:
        with self.ctx.db.write() as s:
            _, raw = create_api_key(s, tenant_id=DEFAULT_TENANT_ID, name=f"{role} key",
                                    role=role, now=self.clock.now())
        return raw

    def post_alertmanager(self, payload: Any) -> Any:
        return self.client.post(f"/api/v1/ingest/alertmanager/{self.keys['alertmanager']}",
                                json=payload)

    def alerts(self, **params: Any) -> list[dict[str, Any]]:
        resp = self.client.get("/api/v1/alerts", params=params, headers=self.auth)
        assert resp.status_code == 200, resp.text
        items: list[dict[str, Any]] = resp.json()["items"]
        return items


def make_harness(db_url: str, clock: FakeClock, **settings: Any) -> Iterator[Harness]:
    app = create_app(Settings(database_url=db_url, **settings), clock=clock,
                     run_background_jobs=False)
    ctx: Context = app.state.ctx
    keys: dict[str, str] = {}
    ids: dict[str, int] = {}
    with ctx.db.write() as s:
        _, admin = create_api_key(s, tenant_id=DEFAULT_TENANT_ID, name="test admin",
                                  role="admin", now=clock.now())
        for kind in ("alertmanager", "grafana", "generic", "pagerduty", "opsgenie"):
            integ, keys[kind] = create_integration(
                s, tenant_id=DEFAULT_TENANT_ID, name=f"{kind} test", type=kind, now=clock.now())
            ids[kind] = integ.id
    with TestClient(app) as client:
        yield Harness(client, clock, ctx, admin, keys, ids)


@pytest.fixture
def vigil(db_url: str, clock: FakeClock) -> Iterator[Harness]:
    yield from make_harness(db_url, clock)


FIXTURES = Path(__file__).resolve().parent.parent / "src" / "vigil" / "integrations"


def fixture_path(integration: str, name: str) -> Path:
    return FIXTURES / integration / "fixtures" / name


# Browser fixtures for the UI tests (a real server and Debian's Chromium).
from channel_sinks import Sink  # noqa: E402
from ui_browser import browser_page, ui_server  # noqa: E402, F401


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) and the sink of what it received."""
    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
