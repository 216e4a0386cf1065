"""One cache type for configuration state, and the one signal that it changed: in this
process at once, on another node through ``config_versions`` within the check interval
(driven here by a fake clock) or at once after ``NOTIFY`` on PostgreSQL; never for a
change that was rolled back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from conftest import Harness
from vigil.clock import FakeClock
from vigil.configstate import RULES, SILENCES, StateCache, Versions, versions_of
from vigil.configstate.listener import conninfo, listen
from vigil.configstate.models import ConfigVersion
from vigil.correlation.routing import RuleSet
from vigil.correlation.schemas import RuleCreate
from vigil.correlation.service import create_rule
from vigil.correlation.store import rule_cache
from vigil.db import Database


def am(name: str, service: str = "db") -> dict[str, Any]:
    return {"version": "4", "status": "firing", "alerts": [{
        "status": "firing", "labels": {"alertname": name, "service": service},
        "annotations": {"summary": name}}]}


def rule(name: str) -> RuleCreate:
    return RuleCreate(name=name, condition=f'labels.rule == "{name}"', group_by=["labels.x"])


def names(sets: dict[int, RuleSet]) -> set[str]:
    return {r.name for rs in sets.values() for r in rs.rules}


def stored_version(db: Database, topic: str) -> int:
    with db.read() as s:
        return int(s.scalar(select(ConfigVersion.version).where(
            ConfigVersion.topic == topic)) or 0)


@pytest.fixture
def other(db_url: str) -> Iterator[Database]:
    """A second node (or a ``vigil apply`` process) on the same database."""
    node = Database(db_url)
    yield node
    node.dispose()


def test_a_change_through_the_api_is_seen_by_the_next_batch(vigil: Harness) -> None:
    assert vigil.post_alertmanager(am("DiskFull")).json()["alerts"][0]["outcome"] == "created"
    silences = vigil.ctx.runner.silences
    loads = silences.loads
    made = vigil.client.post("/api/v1/silences", headers=vigil.auth,
                             json={"matchers": ["service=db"], "duration_minutes": 30})
    assert made.status_code == 201, made.text
    # no clock moved, nothing invalidated by hand: the next batch sees the silence
    assert vigil.post_alertmanager(am("CpuHigh")).json()["alerts"][0]["outcome"] == \
        "suppressed"
    assert silences.loads == loads + 1
    expired = vigil.client.delete(f"/api/v1/silences/{made.json()['id']}", headers=vigil.auth)
    assert expired.status_code == 200
    assert vigil.post_alertmanager(am("MemHigh")).json()["alerts"][0]["outcome"] == "created"


def test_a_change_in_this_process_is_seen_at_once_without_reading_the_table(
        db: Database, clock: FakeClock) -> None:
    versions = versions_of(db)
    versions.monotonic = lambda: clock.now().timestamp()
    cache = rule_cache(versions)
    with db.read() as s:
        assert names(cache.get(s.connection())) == set()
    reads = versions.reads
    with db.write() as s:
        create_rule(s, tenant_id=1, body=rule("by-rack"), now=clock.now())
    assert cache.current() is None  # stale at once, known without the database
    with db.read() as s:
        assert names(cache.get(s.connection())) == {"by-rack"}
        for _ in range(100):  # fresh: no load and no read per ask
            cache.get(s.connection())
    assert versions.reads == reads
    assert cache.loads == 2


def test_a_load_through_an_older_snapshot_is_not_kept_as_current(
        db: Database, clock: FakeClock) -> None:
    """On SQLite a read transaction begun before a change loads what it began with: that
    load must not pass for the new version."""
    cache = rule_cache(versions_of(db))
    with db.read() as s:
        conn = s.connection()
        conn.execute(select(ConfigVersion.version)).all()  # its snapshot starts here
        with db.write() as w:
            create_rule(w, tenant_id=1, body=rule("late"), now=clock.now())
        cache.get(conn)  # (SQLite: without "late"; PostgreSQL reads committed: with it)
    with db.read() as s:
        assert names(cache.get(s.connection())) == {"late"}


def test_another_node_sees_a_change_within_its_check_interval(
        db: Database, other: Database, clock: FakeClock) -> None:
    versions = versions_of(db)
    versions.monotonic = lambda: clock.now().timestamp()
    cache = rule_cache(versions)
    with db.read() as s:
        assert names(cache.get(s.connection())) == set()
    with other.write() as s:  # another node (or ``vigil apply``) saves a rule
        create_rule(s, tenant_id=1, body=rule("by-rack"), now=clock.now())
    reads = versions.reads
    clock.advance(seconds=0.5)
    with db.read() as s:
        assert names(cache.get(s.connection())) == set()  # not yet asked: no storm
        assert versions.reads == reads
        clock.advance(seconds=0.5)
        assert names(cache.get(s.connection())) == {"by-rack"}
        assert versions.reads == reads + 1
        for _ in range(50):
            cache.get(s.connection())
    assert versions.reads == reads + 1 and cache.loads == 2


def test_a_rolled_back_change_announces_nothing(db: Database, clock: FakeClock) -> None:
    versions = versions_of(db)
    cache = rule_cache(versions)
    with db.read() as s:
        cache.get(s.connection())
        known = versions.version(RULES, s.connection())
    before = stored_version(db, RULES)
    with pytest.raises(RuntimeError), db.write() as s:
        create_rule(s, tenant_id=1, body=rule("never"), now=clock.now())
        raise RuntimeError("the request fails after the service changed the rule")
    assert stored_version(db, RULES) == before
    assert versions.version(RULES) == known
    with db.read() as s:
        assert names(cache.get(s.connection())) == set()
    assert cache.loads == 1


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_announces_a_commit_and_not_a_rollback(db: Database, db_url: str,
                                                          clock: FakeClock) -> None:
    from vigil.muting.schemas import SilenceCreate
    from vigil.muting.silences_service import create_silence

    with psycopg.connect(conninfo(db_url), autocommit=True) as conn:
        conn.execute("LISTEN vigil_config")
        with pytest.raises(RuntimeError), db.write() as s:
            create_rule(s, tenant_id=1, body=rule("never"), now=clock.now())
            raise RuntimeError("rolled back")
        with db.write() as s:
            create_silence(s, tenant_id=1, actor="test", now=clock.now(),
                           body=SilenceCreate(matchers=["service=db"], duration_minutes=5))
        got = [n.payload for n in conn.notifies(timeout=30, stop_after=1)]
    assert got == [SILENCES]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_listening_node_reads_at_the_next_ask_after_a_notify(
        db: Database, other: Database, db_url: str, clock: FakeClock) -> None:
    versions = versions_of(db)
    versions.monotonic = lambda: clock.now().timestamp()  # the clock never moves here
    cache = rule_cache(versions)
    listener = listen(db)
    assert listener is not None and listener.versions is versions
    try:
        assert listener.listening.wait(30)
        with db.read() as s:
            cache.get(s.connection())
        versions.announced.clear()
        with other.write() as s:
            create_rule(s, tenant_id=1, body=rule("pushed"), now=clock.now())
        assert versions.announced.wait(30)
        with db.read() as s:
            assert names(cache.get(s.connection())) == {"pushed"}
    finally:
        db.dispose()  # stops it
    assert not listener.listening.is_set()


def test_caches_are_safe_to_read_from_two_threads(db: Database, clock: FakeClock) -> None:
    versions = versions_of(db)
    cache = rule_cache(versions)
    seen: list[set[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def reader() -> None:
        try:
            start.wait(10)
            for _ in range(200):
                with db.read() as s:
                    seen.append(names(cache.get(s.connection())))
                cache.current()
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(3):
        with db.write() as s:
            create_rule(s, tenant_id=1, body=rule(f"r{i}"), now=clock.now())
    for t in threads:
        t.join(60)
    assert not errors
    assert all(x <= {"r0", "r1", "r2"} for x in seen)
    with db.read() as s:
        assert names(cache.get(s.connection())) == {"r0", "r1", "r2"}
    # about one load per version, however many threads asked at once (a reader may load a
    # version again while the commit that made it is still being announced)
    assert cache.loads <= 8


def test_a_cache_with_a_max_age_reloads_after_it(db: Database, clock: FakeClock) -> None:
    calls: list[int] = []

    def load(_conn: Any, key: Any, _now: Any) -> int:
        calls.append(key)
        return len(calls)

    from datetime import timedelta
    cache: StateCache[int] = StateCache(load, max_age=timedelta(seconds=60))
    with db.read() as s:
        conn = s.connection()
        assert cache.get(conn, 7, clock.now()) == 1
        clock.advance(seconds=59)
        assert cache.get(conn, 7, clock.now()) == 1
        assert cache.get(conn, 8, clock.now()) == 2
        clock.advance(seconds=1)
        assert cache.get(conn, 7, clock.now()) == 3
    with pytest.raises(ValueError):
        StateCache(load, topic=RULES)
    assert isinstance(versions_of(db), Versions) and versions_of(db) is versions_of(db)
