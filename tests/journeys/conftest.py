"""Fixtures of the journeys: each test gets a fresh database (SQLite, and PostgreSQL in a
schema of its own), a migrated ``vigil serve`` on it with a test clock, the team's
receivers, a real Alertmanager delivering to Vigil, and the team's on-call setup made
through the API.

Skipped without Debian's prometheus-alertmanager unless VIGIL_TEST_REQUIRE_E2E=1, and on
PostgreSQL without a server unless VIGIL_TEST_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import psycopg
import pytest

from conftest import PG_URL, need_postgres, with_schema
from journeys.alertmanager import ALERTMANAGER, Alertmanager
from journeys.harness import Api, Journey, Node, configure
from journeys.peers import Peers
from journeys.timing import ServerClock

REQUIRE_E2E = os.environ.get("VIGIL_TEST_REQUIRE_E2E") == "1"
_schemas = itertools.count(1)


def _conninfo() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(params=["sqlite", "postgresql"])
def journey_db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
               ) -> Iterator[str]:
    """A database of the journey's own: on SQLite a migrated copy, on PostgreSQL an empty
    schema that ``vigil serve`` migrates first (as it does by default)."""
    if request.param == "sqlite":
        shutil.copy(sqlite_template, tmp_path / "vigil.db")
        yield f"sqlite:///{tmp_path / 'vigil.db'}"
        return
    need_postgres()
    schema = f"vigil_journey_{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(PG_URL, schema)
    finally:
        with psycopg.connect(_conninfo(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def journey(request: pytest.FixtureRequest, journey_db: str, tmp_path: Path
            ) -> Iterator[Journey]:
    if ALERTMANAGER is None:
        if REQUIRE_E2E:
            pytest.fail("prometheus-alertmanager is required (VIGIL_TEST_REQUIRE_E2E=1)")
        pytest.skip("Debian's prometheus-alertmanager is not installed")
    clock = ServerClock(tmp_path / "clock")
    with Peers() as peers:
        node = Node(journey_db, tmp_path, clock)
        am: Alertmanager | None = None
        j: Journey | None = None
        try:
            api = Api(node.url, node.api_key)
            configure(api, peers)
            am = Alertmanager(tmp_path, [node.ingest_url, f"{peers.tap.url}/alertmanager"])
            j = Journey(node, api, clock, peers, am)
            yield j
        finally:
            if request.node.stash.get(_FAILED, False):
                print(f"--- vigil log ({node.server.log}) ---")
                print(node.log()[-6000:])
            if j is not None:
                j.close()
            if am is not None:
                am.stop()
            node.stop()
