"""The writer keeps the incidents it wrote for the next batch (SQLite): counts stay right
across batches, and anything written meanwhile by others, or rolled back, is never joined
from memory. Each test runs on both databases (PostgreSQL never keeps them)."""

from __future__ import annotations

import asyncio
import random
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from vigil.alerts.dedup import Outcome
from vigil.alerts.models import Alert
from vigil.auth.service import create_api_key  # noqa: F401  (keeps the models registered)
from vigil.clock import FakeClock
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.submission import Submission
from vigil.db import Database
from vigil.errors import Conflict, MalformedBody
from vigil.incidents.models import Incident, IncidentEvent
from vigil.incidents.service import act
from vigil.metrics import Metrics
from vigil.pipeline.runner import PipelineRunner


def disk(host: str, raw: dict[str, object] | None = None) -> Submission:
    ev = AlertEvent(action=Action.TRIGGER, source="test", name="DiskFull",
                    labels={"alertname": "DiskFull", "host": host}, raw=raw or {})
    return Submission(1, None, fingerprint(ev, integration_id=0), ev)


def incidents(db: Database) -> list[Any]:
    with db.read() as s:
        return list(s.execute(select(
            Incident.id, Incident.status, Incident.alert_count, Incident.open_alert_count,
            Incident.occurrences, Incident.last_seen_at).order_by(Incident.id)))


def run(db: Database, clock: FakeClock, steps: list[object]) -> PipelineRunner:
    """Submits each list of submissions as one request and waits for it, calls each
    callable between them (with the writer idle); the clock moves a second per step."""

    async def main() -> PipelineRunner:
        runner = PipelineRunner(db, clock, Metrics())
        await runner.start()
        for step in steps:
            if callable(step):
                step()
            else:
                assert isinstance(step, list)
                await runner.submit(step)
            clock.advance(seconds=1)
        await runner.stop()
        return runner

    return asyncio.run(main())


def test_alerts_joining_over_many_batches_are_all_counted(db: Database,
                                                          clock: FakeClock) -> None:
    runner = run(db, clock, [[disk(f"h{b}-{i}") for i in range(3)] for b in range(4)])
    (inc,) = incidents(db)
    assert (inc.alert_count, inc.open_alert_count, inc.occurrences) == (12, 12, 12)
    assert inc.last_seen_at == datetime(2026, 3, 1, 12, 0, 3, tzinfo=UTC)
    with db.read() as s:
        events = list(s.execute(select(
            IncidentEvent.kind, IncidentEvent.before, IncidentEvent.after).where(
            IncidentEvent.incident_id == inc.id).order_by(IncidentEvent.id)))
    # The first batch: one opened it and two joined; then one entry per batch.
    assert [e.kind for e in events] == ["created"] + ["alert_added"] * 4
    assert [e.before["alert_count"] for e in events[1:]] == [1, 3, 6, 9]
    assert events[-1].after["alert_count"] == 12
    if db.dialect == "sqlite":
        # Batches 2-4 found their group's incident in the writer's memory.
        assert runner.incidents.hits == 3 and runner.incidents.misses == 1


def closer(db: Database, clock: FakeClock) -> Callable[[], None]:
    """A person resolving and closing the one incident, through ``db``."""

    def close() -> None:
        (inc,) = incidents(db)
        with db.write() as s:
            for action in ("resolve", "close"):
                act(s, tenant_id=1, incident_id=inc.id, action=action, actor="user:ann",
                    now=clock.now())

    return close


def test_an_incident_closed_through_the_api_between_batches_is_not_joined(
        db: Database, clock: FakeClock) -> None:
    runner = run(db, clock, [[disk("a")], [disk("b")], closer(db, clock), [disk("c")]])
    first, second = incidents(db)
    assert (first.status, first.alert_count) == ("closed", 2)
    assert (second.status, second.alert_count) == ("firing", 1)
    if db.dialect == "sqlite":
        assert runner.incidents.hits == 1  # the second batch; the third loaded again


def test_a_change_by_another_connection_between_batches_is_seen(
        db: Database, clock: FakeClock) -> None:
    """Another process (here another Database on the same file) resolving the incident and
    closing it: the writer's memory cannot know, SQLite's data_version tells it."""
    other = Database(db.url)
    try:
        run(db, clock, [[disk("a")], [disk("b")], closer(other, clock), [disk("c")]])
    finally:
        other.dispose()
    first, second = incidents(db)
    assert (first.status, first.alert_count) == ("closed", 2)
    assert (second.status, second.alert_count) == ("firing", 1)


def test_a_batch_that_fails_leaves_nothing_of_it_in_memory(db: Database,
                                                            clock: FakeClock) -> None:
    """A batch fails after correlation counted its alerts into the incident; each request
    then commits (or fails) alone. The failed attempts' counts must not reach the next
    batch."""
    deep: dict[str, object] = {}
    for _ in range(300):  # deeper than any JSON the database can be given
        deep = {"d": deep}

    async def main() -> list[object]:
        runner = PipelineRunner(db, clock, Metrics())
        await runner.start()
        await runner.submit([disk("a")])
        gate = threading.Event()
        blocker = asyncio.ensure_future(runner.run_exclusive(gate.wait))
        tasks = [asyncio.ensure_future(runner.submit([disk("b")])),
                 asyncio.ensure_future(runner.submit([disk("poison", raw=deep)]))]
        await asyncio.sleep(0)
        gate.set()
        await blocker
        done: list[object] = list(await asyncio.gather(*tasks, return_exceptions=True))
        clock.advance(seconds=1)
        await runner.submit([disk("c")])
        await runner.stop()
        return done

    good, bad = asyncio.run(main())
    assert isinstance(good, list) and [r.outcome for r in good] == [Outcome.CREATED]
    assert isinstance(bad, MalformedBody)
    (inc,) = incidents(db)
    assert (inc.alert_count, inc.open_alert_count, inc.occurrences) == (3, 3, 3)


def _story(seed: int) -> list[tuple[str, Any]]:
    """A random run of batches over three alert groups: new alerts, repeats, resolves,
    clock jumps past the join and reopen windows, and people acting on incidents."""
    rng = random.Random(seed)
    steps: list[tuple[str, Any]] = []
    hosts = [f"h{i}" for i in range(6)]
    for _ in range(40):
        kind = rng.choices(["batch", "wait", "act"], weights=[6, 2, 1])[0]
        if kind == "batch":
            steps.append(("batch", [(rng.choice(["DiskFull", "CpuHigh", "OOM"]),
                                     rng.choice(hosts), rng.random() < 0.25,
                                     rng.choice(["warning", "critical"]))
                                    for _ in range(rng.randint(1, 6))]))
        elif kind == "wait":
            steps.append(("wait", rng.choice([1, 30, 400, 700, 1900])))
        else:
            steps.append(("act", (rng.random(), rng.choice(
                ["acknowledge", "resolve", "close", "reopen"]))))
    return steps


def _play(db: Database, steps: list[tuple[str, Any]], *, forget: bool) -> PipelineRunner:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))

    def event(name: str, host: str, resolve: bool, severity: str) -> Submission:
        ev = AlertEvent(action=Action.RESOLVE if resolve else Action.TRIGGER, source="test",
                        name=name, labels={"alertname": name, "host": host,
                                           "severity": severity})
        return Submission(1, None, fingerprint(ev, integration_id=0), ev)

    async def main() -> PipelineRunner:
        runner = PipelineRunner(db, clock, Metrics())
        await runner.start()
        for kind, arg in steps:
            if kind == "batch":
                if forget:
                    runner.incidents.clear()
                await runner.submit([event(*a) for a in arg])
                clock.advance(seconds=1)
            elif kind == "wait":
                clock.advance(seconds=arg)
            else:
                ids = [i.id for i in incidents(db)]
                if ids:
                    pick, action = arg
                    try:
                        with db.write() as s:
                            act(s, tenant_id=1, incident_id=ids[int(pick * len(ids))],
                                action=action, actor="user:ann", now=clock.now())
                    except Conflict:
                        pass
        await runner.stop()
        return runner

    return asyncio.run(main())


def _state(db: Database) -> tuple[list[Any], list[Any], list[Any]]:
    with db.read() as s:
        incs = [tuple(r) for r in s.execute(select(
            Incident.id, Incident.group_key, Incident.status, Incident.severity,
            Incident.alert_count, Incident.open_alert_count, Incident.occurrences,
            Incident.last_seen_at, Incident.resolved_at).order_by(Incident.id))]
        alerts = [tuple(r) for r in s.execute(select(
            Alert.id, Alert.fingerprint, Alert.status, Alert.incident_id).order_by(Alert.id))]
        timeline = [tuple(r) for r in s.execute(select(
            IncidentEvent.incident_id, IncidentEvent.kind, IncidentEvent.message,
            IncidentEvent.after).order_by(IncidentEvent.id))]
    return incs, alerts, timeline


@pytest.mark.parametrize("seed", range(6))
def test_keeping_incidents_in_memory_changes_no_outcome(
        tmp_path: Path, sqlite_template: Path, seed: int) -> None:
    """The same random story played twice on SQLite, once with the writer's memory and once
    with it dropped before every batch (every incident read from the database), leaves the
    same incidents, alerts and timeline."""
    results = []
    for forget in (False, True):
        target = tmp_path / f"{forget}.db"
        shutil.copy(sqlite_template, target)
        db = Database(f"sqlite:///{target}")
        try:
            runner = _play(db, _story(seed), forget=forget)
            results.append(_state(db))
            if not forget:
                assert runner.incidents.hits > 0
        finally:
            db.dispose()
    kept, dropped = results
    assert kept[0] and kept[1]  # the story made incidents and alerts
    assert kept == dropped
