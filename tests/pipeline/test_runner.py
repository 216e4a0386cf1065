"""The group-commit runner against real databases: batching, back-pressure, durability
before the answer, and two nodes deduplicating the same alerts."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from vigil.alerts import store
from vigil.alerts.dedup import Outcome
from vigil.alerts.models import Alert
from vigil.auth.service import create_api_key  # noqa: F401  (keeps the models registered)
from vigil.clock import FakeClock
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.submission import Submission
from vigil.db import Database
from vigil.errors import MalformedBody, Overloaded
from vigil.metrics import Metrics
from vigil.pipeline.runner import PipelineRunner

CLOCK = FakeClock(datetime(2026, 3, 1, tzinfo=UTC))


def sub(i: int, action: Action = Action.TRIGGER) -> Submission:
    ev = AlertEvent(action=action, source="test", name=f"A{i}",
                    labels={"alertname": "A", "instance": str(i)})
    return Submission(1, None, fingerprint(ev, integration_id=0), ev)


def alert_count(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count(Alert.id))) or 0)


def test_concurrent_requests_share_commits(db: Database) -> None:
    metrics = Metrics()

    async def main() -> list[list[Outcome]]:
        runner = PipelineRunner(db, CLOCK, metrics)
        await runner.start()
        gate = threading.Event()
        # Hold the writer so that the requests below pile up, as under load.
        blocker = asyncio.ensure_future(runner.run_exclusive(gate.wait))
        tasks = [asyncio.ensure_future(runner.submit([sub(i)])) for i in range(50)]
        await asyncio.sleep(0)
        gate.set()
        await blocker
        results = await asyncio.gather(*tasks)
        await runner.stop()
        return [[r.outcome for r in res] for res in results]

    outcomes = asyncio.run(main())
    assert outcomes == [[Outcome.CREATED]] * 50
    assert alert_count(db) == 50
    batches = metrics.batch_size.collect()[0].samples
    count = next(s.value for s in batches if s.name.endswith("_count"))
    assert count < 50  # 50 requests, fewer commits: group commit
    assert count == 1


def test_full_queue_answers_overloaded_and_loses_nothing_accepted(db: Database) -> None:
    async def main() -> tuple[int, int]:
        runner = PipelineRunner(db, CLOCK, Metrics(), max_pending=10)
        await runner.start()
        gate = threading.Event()
        blocker = asyncio.ensure_future(runner.run_exclusive(gate.wait))
        accepted = [asyncio.ensure_future(runner.submit([sub(i)])) for i in range(10)]
        await asyncio.sleep(0)
        with pytest.raises(Overloaded) as info:
            await runner.submit([sub(99)])
        assert info.value.status_code == 503 and info.value.retry_after >= 1
        gate.set()
        await blocker
        done = await asyncio.gather(*accepted)
        await runner.stop()
        return len(done), runner.queue_depth

    n, depth = asyncio.run(main())
    assert n == 10 and depth == 0
    assert alert_count(db) == 10


def test_a_failing_batch_is_retried_request_by_request_and_jobs_keep_their_place(
        db: Database) -> None:
    """The writer takes everything queued; when the batch fails, each request commits or
    fails alone, and a job queued between them runs in its turn, its error its caller's."""
    deep: dict[str, object] = {}
    for _ in range(300):  # deeper than any JSON the database can be given
        deep = {"d": deep}

    def poison() -> Submission:
        ev = AlertEvent(action=Action.TRIGGER, source="test", name="P",
                        labels={"alertname": "P"}, raw=deep)
        return Submission(1, None, fingerprint(ev, integration_id=0), ev)

    def fail() -> None:
        raise ValueError("job failed")

    async def main() -> list[object]:
        runner = PipelineRunner(db, CLOCK, Metrics())
        await runner.start()
        gate = threading.Event()
        blocker = asyncio.ensure_future(runner.run_exclusive(gate.wait))
        tasks = [asyncio.ensure_future(runner.submit([sub(1)])),
                 asyncio.ensure_future(runner.submit([poison()])),
                 asyncio.ensure_future(runner.run_exclusive(fail)),
                 asyncio.ensure_future(runner.submit([sub(2)]))]
        await asyncio.sleep(0)
        gate.set()
        await blocker
        done: list[object] = list(await asyncio.gather(*tasks, return_exceptions=True))
        await runner.stop()
        assert runner.queue_depth == 0
        return done

    first, bad, job, last = asyncio.run(main())
    assert isinstance(first, list) and [r.outcome for r in first] == [Outcome.CREATED]
    assert isinstance(last, list) and [r.outcome for r in last] == [Outcome.CREATED]
    assert isinstance(bad, MalformedBody) and "cannot be stored" in bad.message
    assert isinstance(job, ValueError)
    assert alert_count(db) == 2


def test_an_oversized_request_is_taken_alone_when_the_queue_is_empty(db: Database) -> None:
    async def main() -> int:
        runner = PipelineRunner(db, CLOCK, Metrics(), max_pending=5, max_batch=5)
        await runner.start()
        res = await runner.submit([sub(i) for i in range(20)])
        await runner.stop()
        return len(res)

    assert asyncio.run(main()) == 20


def test_stop_finishes_what_was_accepted(db: Database) -> None:
    async def main() -> None:
        runner = PipelineRunner(db, CLOCK, Metrics())
        await runner.start()
        tasks = [asyncio.ensure_future(runner.submit([sub(i)])) for i in range(20)]
        await asyncio.sleep(0)
        await runner.stop()
        await asyncio.gather(*tasks)
        with pytest.raises(Overloaded):
            await runner.submit([sub(1)])

    asyncio.run(main())
    assert alert_count(db) == 20


def test_two_nodes_ingesting_the_same_alerts_open_each_once(db_url: str) -> None:
    """Two runners with their own engines (as two nodes) race on the same fingerprints."""
    db_a, db_b = Database(db_url), Database(db_url)

    async def main() -> list[Outcome]:
        a = PipelineRunner(db_a, CLOCK, Metrics(), max_batch=10)
        b = PipelineRunner(db_b, CLOCK, Metrics(), max_batch=10)
        await a.start()
        await b.start()
        tasks = []
        for rnd in range(5):
            for runner in (a, b):
                tasks.append(runner.submit([sub(i) for i in range(rnd, rnd + 30)]))
        results = await asyncio.gather(*tasks)
        await a.stop()
        await b.stop()
        return [r.outcome for res in results for r in res]

    outcomes = asyncio.run(main())
    try:
        assert outcomes.count(Outcome.CREATED) == 34  # instances 0..33, each opened once
        assert alert_count(db_a) == 34
        with db_a.read() as s:
            total = s.scalar(select(func.sum(Alert.occurrences)))
        assert total == len(outcomes) == 300
    finally:
        db_a.dispose()
        db_b.dispose()


def test_a_rule_changed_while_requests_wait_applies_to_them(db: Database) -> None:
    """Requests are routed on arrival with the rules then loaded; a rule saved before their
    batch commits still decides their incidents (the writer routes them again)."""
    from vigil.correlation.schemas import RuleCreate
    from vigil.correlation.service import create_rule
    from vigil.incidents.models import Incident

    def grouped(i: int) -> Submission:
        ev = AlertEvent(action=Action.TRIGGER, source="test", name="DiskFull",
                        labels={"alertname": "DiskFull", "host": f"h{i}", "rack": "r1"})
        return Submission(1, None, fingerprint(ev, integration_id=0), ev)

    async def main() -> None:
        runner = PipelineRunner(db, CLOCK, Metrics())
        await runner.start()
        await runner.submit([sub(0)])  # the rule sets are now loaded, and fresh
        assert runner.rules.current() is not None
        gate = threading.Event()
        blocker = asyncio.ensure_future(runner.run_exclusive(gate.wait))
        waiting = asyncio.ensure_future(runner.submit([grouped(1), grouped(2)]))
        await asyncio.sleep(0)  # queued, routed with the old rules
        with db.write() as s:
            create_rule(s, tenant_id=1, now=CLOCK.now(), body=RuleCreate(
                name="by-rack", condition='labels.rack == "r1"', group_by=["labels.rack"]))
        runner.rules.invalidate()
        gate.set()
        await blocker
        assert [r.outcome for r in await waiting] == [Outcome.CREATED] * 2
        await runner.stop()

    asyncio.run(main())
    with db.read() as s:
        keys = set(s.scalars(select(Incident.group_key).where(
            Incident.title.contains("DiskFull"))))
    assert len(keys) == 1 and next(iter(keys)).startswith("rule:")


def test_an_alert_resolved_and_firing_again_in_one_batch_is_two_alerts(db: Database) -> None:
    """A resolve and a new firing of the same alert in one batch (one webhook, or two
    requests sharing a commit): the old alert resolves and a new one opens, where the new
    row used to meet the old one still in the open-fingerprint index and fail the batch."""

    async def main() -> list[Outcome]:
        runner = PipelineRunner(db, CLOCK, Metrics())
        await runner.start()
        await runner.submit([sub(7)])
        results = await runner.submit([sub(7, Action.RESOLVE), sub(7)])
        await runner.stop()
        return [r.outcome for r in results]

    assert asyncio.run(main()) == [Outcome.RESOLVED, Outcome.CREATED]
    with db.read() as s:
        rows = s.execute(select(Alert.status, Alert.fingerprint).order_by(Alert.id)).all()
    assert [r.status for r in rows] == ["resolved", "firing"]
    assert rows[0].fingerprint == rows[1].fingerprint


def am(i: int, action: Action = Action.TRIGGER, *, start: int | None = 0,
       source: str = "alertmanager") -> Submission:
    """An Alertmanager-style event of instance ``i`` whose startsAt is ``start`` minutes on."""
    ev = AlertEvent(action=action, source=source, name=f"A{i}",
                    labels={"alertname": "A", "instance": str(i)},
                    starts_at=None if start is None
                    else datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=start))
    return Submission(1, None, fingerprint(ev, integration_id=0), ev)


def test_the_latest_resolved_alert_is_loaded_only_for_triggers_that_need_it(
        db: Database) -> None:
    """``load_last_resolved``: per (tenant, fingerprint), the resolved alert that started
    last, for Alertmanager/Grafana triggers that find no open alert, in one query through
    its index, and no query at all when no trigger needs it."""

    async def main() -> None:
        runner = PipelineRunner(db, CLOCK, Metrics())
        await runner.start()
        for start in (10, 0):  # instance 1 fired and resolved twice (the latest id started
            # first); 2 twice as well, and fires again
            await runner.submit([am(1, start=start), am(2, start=start)])
            await runner.submit([am(1, Action.RESOLVE), am(2, Action.RESOLVE)])
        await runner.submit([am(2, start=20)])
        await runner.stop()

    asyncio.run(main())
    statements: list[str] = []
    with db.write_engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        if db.dialect == "sqlite":
            raw.set_trace_callback(statements.append)  # type: ignore[union-attr]
        open_alerts = store.load_open(conn, [am(2)])
        assert [a.starts_at.minute for a in open_alerts if a.starts_at] == [20]
        found = store.load_last_resolved(conn, [
            am(1, start=5), am(2, start=20), am(3), am(1, Action.RESOLVE),
            am(1, source="pagerduty"), am(1, start=30)], open_alerts)
        # Instance 1: its resolved alert that started last; 2 is open; 3 never was.
        ((key, latest),) = found.items()
        assert key == (1, am(1).fingerprint)
        assert (latest.status, latest.starts_at) == ("resolved", am(1, start=10).event.starts_at)
        if db.dialect == "sqlite":
            assert len([s for s in statements if "r.status = 'resolved'" in s]) == 1
            statements.clear()
        for none_needed in ([am(2, start=20)], [am(1, source="generic")],
                            [am(1, Action.RESOLVE)], [am(1, start=None)]):
            assert store.load_last_resolved(conn, none_needed,
                                            store.load_open(conn, none_needed)) == {}
        # The statement as it runs: each key's top row through the index, then the rows
        # by primary key (never a scan of every alert).
        where = store._WHERE_LAST_RESOLVED[db.dialect]
        if db.dialect == "sqlite":
            assert not [s for s in statements if "r.status = 'resolved'" in s]
            plan = str(raw.execute(  # type: ignore[union-attr]
                "EXPLAIN QUERY PLAN SELECT id FROM alerts WHERE " + where.format(p="?"),
                ('[[1, "x"]]',)).fetchall())
            assert "SEARCH alerts USING INTEGER PRIMARY KEY" in plan
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = str(conn.exec_driver_sql(
                "EXPLAIN SELECT id FROM alerts WHERE " + where.format(p="%s"),
                ([1], ["x"])).fetchall())
            # (the keys' ids worked out once, up front, not joined against every alert)
            assert "InitPlan" in plan and "Join" not in plan and "Nested Loop" not in plan
        assert "ix_alerts_resolved_fingerprint" in plan
