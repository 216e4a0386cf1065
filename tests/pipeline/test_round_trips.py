"""How many statements the hot paths send to the database, counted at the driver
(``sqlcount``) on SQLite and PostgreSQL: the ingest path's round trips per batch are held
here, not by comments.

Each number is written as the sum of the statements it is made of, one per line. Caches
are warm before counting (rules, silences, windows, inhibitions and policies loaded by a
first batch, their reload held off; SQL texts built; the pool's connection open) and
nothing advances, so the numbers are the steady state. ``mark_received`` (an UPDATE at
most once a second per integration) is left out: the batches carry no integration.

Per batch, on top of its statements:

* SQLite: ``BEGIN IMMEDIATE``, ``PRAGMA data_version`` (is the writer's incident cache
  still valid? see incidents/cache.py) and ``COMMIT``;
* PostgreSQL: the pool's pre-ping (``;``: ``pool_pre_ping=True``, one round trip per
  checkout), ``BEGIN`` (sent by psycopg), the advisory locks (``locks.lock_keys``) and
  ``COMMIT``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from conftest import Harness
from incident_api import alert, am
from sqlcount import StatementLog
from vigil.alerts.dedup import Outcome, Result
from vigil.clock import FakeClock
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.submission import Submission
from vigil.correlation.schemas import RuleCreate
from vigil.correlation.service import create_rule
from vigil.db import Database
from vigil.metrics import Metrics
from vigil.pipeline.runner import PipelineRunner
from vigil.worker.notifier import prepare

SIZES = (1, 10, 100)
START = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


def alertmanager(i: int, name: str, action: Action = Action.TRIGGER,
                 **labels: str) -> Submission:
    """An Alertmanager alert (it carries its startsAt) of instance ``i``."""
    ev = AlertEvent(action=action, source="alertmanager", name=name, starts_at=START,
                    labels={"alertname": name, "instance": str(i), **labels})
    return Submission(1, None, fingerprint(ev, integration_id=0), ev)


def fail(what: str, expected: int, statements: list[str]) -> str:
    return (f"{what}: expected {expected} statements, got {len(statements)}:\n"
            + StatementLog.show(statements))


@dataclass
class Ingest:
    """A started runner on an event loop of its own, its caches warm."""

    runner: PipelineRunner
    loop: asyncio.AbstractEventLoop
    log: StatementLog
    dialect: str

    def submit(self, batch: list[Submission]) -> list[Result]:
        return self.loop.run_until_complete(self.runner.submit(batch))

    def count(self, batch: list[Submission]) -> tuple[list[Outcome], list[str]]:
        with self.log.counting() as statements:
            results = self.submit(batch)
        return [r.outcome for r in results], statements

    def warm(self) -> None:
        """A batch that loads what the writer caches (and a connection for the pool)."""
        self.submit([alertmanager(0, "Warm")])


def hold_caches(runner: PipelineRunner) -> None:
    """The writer's configuration caches look again every second (a reload, or a read of
    the configuration versions): not while a test counts. Changes this process commits
    are still seen at once."""
    for cache in (runner.rules, runner.policies, runner.muting.silences,
                  runner.muting.windows, runner.muting.inhibitions):
        if hasattr(cache, "ttl"):
            setattr(cache, "ttl", 3600.0)  # noqa: B010
        versions = getattr(cache, "versions", None)
        if versions is not None and hasattr(versions, "interval"):
            versions.interval = math.inf


@pytest.fixture
def ingest(db: Database) -> Iterator[Ingest]:
    log = StatementLog().attach(db)
    runner = PipelineRunner(db, FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)), Metrics())
    hold_caches(runner)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.start())
    ing = Ingest(runner, loop, log, db.dialect)
    try:
        ing.warm()
        yield ing
    finally:
        loop.run_until_complete(runner.stop())
        loop.close()


#: Every writer transaction: (SQLite) BEGIN IMMEDIATE, PRAGMA data_version, COMMIT;
#: (PostgreSQL) pre-ping, BEGIN, pg_advisory_xact_lock over all the batch's keys, COMMIT.
TXN = {"sqlite": 3, "postgresql": 4}

#: N new alerts that open one incident (default grouping: one alert name).
OPEN_ONE = {d: TXN[d] + (
    1     # SELECT the open alerts of the batch's fingerprints (store.load_open)
    + 1   # SELECT the latest resolved alert of each (store.load_last_resolved)
    + 1   # SELECT flap_states of the new firings (muting.apply._flapping)
    + 1   # SELECT the groups' open/recent incidents (incidents.store.load_for_batch)
    + 1   # ids for the new incidents (SQLite max(id), PostgreSQL nextval x n)
    + 1   # UPDATE tenants ... RETURNING incident_seq (incident numbers)
    + 1   # INSERT incidents (executemany)
    + 1   # ids for the new alerts
    + 1   # INSERT alerts (executemany)
    + 1   # INSERT ... ON CONFLICT alerts_per_hour
    + 1   # INSERT alert_events (executemany)
    + 1   # INSERT incident_events: created, alert_added (executemany)
    + 1   # INSERT outbox: incident.created (executemany)
) for d in TXN}

#: N new alerts that join an incident the writer has just written.
JOIN = {d: TXN[d] + (
    1     # SELECT the open alerts
    + 1   # SELECT the latest resolved alerts
    + 1   # SELECT flap_states
    + (d == "postgresql")  # SELECT the group's incidents (SQLite: the writer's cache)
    + 1   # ids for the new alerts
    + 1   # INSERT alerts
    + 1   # INSERT ... ON CONFLICT alerts_per_hour
    + 1   # INSERT alert_events
    + 1   # UPDATE incidents: the counters only (executemany)
    + 1   # INSERT incident_events: alert_added
) for d in TXN}

#: N repeats of open alerts (Alertmanager re-sends: redelivered).
REFIRE = {d: TXN[d] + (
    1     # SELECT the open alerts (all found: no resolved-alert or flap lookup)
    + (d == "postgresql")  # SELECT their incidents by id (SQLite: the writer's cache)
    + 1   # UPDATE alerts (executemany)
    + 1   # INSERT alert_events
    + 1   # UPDATE incidents: the counters
) for d in TXN}

#: N resolves: every alert of an incident, which resolves with them.
RESOLVE = {d: TXN[d] + (
    1     # SELECT the open alerts
    + 1   # SELECT flap_states (a resolve is a change of state)
    + (d == "postgresql")  # SELECT their incidents by id
    + 1   # UPDATE alerts
    + 1   # INSERT alert_events
    + 1   # INSERT flap_states (the first resolve of each)
    + 1   # UPDATE incidents: counters, status, severity, pending
    + 1   # INSERT incident_events: resolved
    + 1   # INSERT outbox: incident.status_changed
) for d in TXN}


def test_a_batch_of_new_alerts_costs_the_same_statements_whatever_its_size(
        ingest: Ingest) -> None:
    expected = OPEN_ONE[ingest.dialect]
    for n in SIZES:
        outcomes, statements = ingest.count([alertmanager(i, f"New{n}") for i in range(n)])
        assert outcomes == [Outcome.CREATED] * n
        assert len(statements) == expected, fail(f"{n} new alerts", expected, statements)


def test_new_alerts_opening_as_many_incidents_cost_the_same(ingest: Ingest) -> None:
    """N alerts of N groups: N incidents, numbered and inserted in the same statements."""
    expected = OPEN_ONE[ingest.dialect]
    for n in SIZES:
        outcomes, statements = ingest.count(
            [alertmanager(0, f"Group{n}-{i}") for i in range(n)])
        assert outcomes == [Outcome.CREATED] * n
        assert len(statements) == expected, fail(f"{n} new incidents", expected, statements)


def test_alerts_joining_an_open_incident(ingest: Ingest) -> None:
    expected = JOIN[ingest.dialect]
    for n in SIZES:
        ingest.submit([alertmanager(0, f"Join{n}")])
        outcomes, statements = ingest.count(
            [alertmanager(i, f"Join{n}") for i in range(1, n + 1)])
        assert outcomes == [Outcome.CREATED] * n
        assert len(statements) == expected, fail(f"{n} joining", expected, statements)


def test_repeats_of_open_alerts(ingest: Ingest) -> None:
    expected = REFIRE[ingest.dialect]
    for n in SIZES:
        batch = [alertmanager(i, f"Repeat{n}") for i in range(n)]
        ingest.submit(batch)
        outcomes, statements = ingest.count(batch)
        assert outcomes == [Outcome.REDELIVERED] * n
        assert len(statements) == expected, fail(f"{n} repeats", expected, statements)


def test_resolves(ingest: Ingest) -> None:
    expected = RESOLVE[ingest.dialect]
    for n in SIZES:
        ingest.submit([alertmanager(i, f"Resolve{n}") for i in range(n)])
        outcomes, statements = ingest.count(
            [alertmanager(i, f"Resolve{n}", Action.RESOLVE) for i in range(n)])
        assert outcomes == [Outcome.RESOLVED] * n
        assert len(statements) == expected, fail(f"{n} resolves", expected, statements)


def test_a_correlation_rule_opens_and_then_joins_its_incident(ingest: Ingest,
                                                              db: Database) -> None:
    """Alerts a rule groups (by rack): the first batch of a rack opens its incident, the
    next joins it, each at the default grouping's cost."""
    with db.write() as s:
        create_rule(s, tenant_id=1, now=START, body=RuleCreate(
            name="by-rack", condition='labels.alertname == "Disk"', group_by=["labels.rack"]))
    ingest.runner.rules.invalidate()
    ingest.warm()  # the rules loaded again (and the incident cache, which the write dropped)
    for n in SIZES:
        outcomes, statements = ingest.count(
            [alertmanager(i, "Disk", rack=f"r{n}") for i in range(n)])
        assert outcomes == [Outcome.CREATED] * n
        expected = OPEN_ONE[ingest.dialect]
        assert len(statements) == expected, fail(f"{n} opening by rule", expected, statements)
        outcomes, statements = ingest.count(
            [alertmanager(i, "Disk", rack=f"r{n}") for i in range(n, 2 * n)])
        assert outcomes == [Outcome.CREATED] * n
        expected = JOIN[ingest.dialect]
        assert len(statements) == expected, fail(f"{n} joining by rule", expected, statements)


# --- the notifier ---------------------------------------------------------------------

#: One read transaction of the notifier's: does anything wait?
CHECK = {d: (
    (d == "postgresql")  # pre-ping
    + 1   # BEGIN (deferred: no write lock)
    + 1   # SELECT EXISTS(...)
    + 1   # ROLLBACK
) for d in TXN}

#: A pass with nothing due: one read (outbox events pending for a consumer, escalation
#: steps due, deliveries due: one SELECT of them all).
IDLE = CHECK

#: A consumer's transaction over the outbox (outbox.consumer.run), before its own reads.
CONSUME = {d: (
    (d == "postgresql")  # pre-ping
    + 1   # BEGIN
    + 1   # INSERT outbox_cursors ... ON CONFLICT DO NOTHING
    + 1   # SELECT the cursor (PostgreSQL: FOR UPDATE)
    + 3 * (d == "postgresql")  # pg_advisory_lock, SELECT max(outbox.id), unlock: the
    #                            id below which no writer is still inserting
    + 1   # SELECT the outbox events past the cursor
    + 1   # SELECT outbox_failures (events set aside, to retry)
    + 1   # SELECT the outbox events to retry
    + 1   # UPDATE the cursor
    + 1   # COMMIT
) for d in TXN}

#: A pass that plans and claims K deliveries of K incidents' incident.created to one
#: routed webhook (one channel, one address).
CLAIM_PASS = {d: CHECK[d] + (
    # the escalation engine's consumer of incident events (oncall.escalation.engine)
    CONSUME[d]
    + 1   # SELECT their incidents
    + 1   # SELECT their escalations
    + 1   # SELECT services with an escalation policy
    + 1   # SELECT teams with an escalation policy
    + 1   # INSERT incident_events (executemany)
    # the escalation steps due
    + (d == "postgresql") + 1 + 1 + 1  # pre-ping, BEGIN, SELECT escalations due, COMMIT
    # planning (notify.planning)
    + CONSUME[d]
    + 1   # SELECT the enabled channels
    + 1   # SELECT the routing rules
    + 1   # SELECT the events' incidents
    + 1   # SELECT deliveries.key already planned
    + 1   # INSERT deliveries (executemany)
    # claim (notify.delivery.claim)
    + (d == "postgresql")  # pre-ping
    + 1   # BEGIN
    + 1   # SELECT the due deliveries (PostgreSQL: FOR UPDATE SKIP LOCKED)
    + 1   # SELECT the signing secret
    + 1   # SELECT their incidents (PassCache.preload)
    + 1   # SELECT each incident's first alert
    + 1   # SELECT deliveries being sent about those incidents (order per target)
    + 1   # SELECT the channel (once per channel)
    + 1   # SELECT count sent in the last minute (once per channel and address)
    + 1   # SELECT count being sent (once per channel and address)
    + 1   # SELECT the template override (once per tenant, kind and event)
    + 1   # UPDATE deliveries: leased (executemany)
    + 1   # COMMIT
) for d in TXN}


def webhook(h: Harness, name: str = "hook", kind: str = "webhook",
            **config: Any) -> None:
    made = h.client.post("/api/v1/channels", headers=h.auth, json={
        "name": name, "kind": kind, "rate_per_minute": 10_000,
        "config": config or {"url": "http://127.0.0.1:9/hook"}})
    assert made.status_code == 201, made.text


def route(h: Harness, name: str, channel: str, address: str | None = None) -> None:
    made = h.client.post("/api/v1/routing-rules", headers=h.auth, json={
        "name": name, "channels": [channel], **({"address": address} if address else {})})
    assert made.status_code == 201, made.text


def incidents_of(h: Harness, prefix: str, k: int) -> None:
    """K alerts of K services in one request: K incidents."""
    resp = h.post_alertmanager(am(*(alert(f"{prefix}", service=f"{prefix}-{i}")
                                    for i in range(k))))
    assert resp.status_code == 202, resp.text


def test_an_idle_notifier_pass_only_reads(vigil: Harness) -> None:
    log = StatementLog().attach(vigil.ctx.db)
    prepare(vigil.ctx)
    with log.counting() as statements:
        done = prepare(vigil.ctx)
    assert done.claims == [] and done.alerts == []
    expected = IDLE[vigil.ctx.db.dialect]
    assert len(statements) == expected, fail("an idle pass", expected, statements)
    assert not [s for s in statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")
                or s.startswith("BEGIN IMMEDIATE")], StatementLog.show(statements)


def test_a_notifier_pass_claims_k_deliveries_in_the_same_statements(
        vigil: Harness) -> None:
    log = StatementLog().attach(vigil.ctx.db)
    webhook(vigil)
    route(vigil, "all", "hook")
    incidents_of(vigil, "Warm", 1)
    assert len(prepare(vigil.ctx).claims) == 1  # (the signing secret made, SQL built)
    expected = CLAIM_PASS[vigil.ctx.db.dialect]
    for k in (1, 5, 25):
        incidents_of(vigil, f"K{k}", k)
        with log.counting() as statements:
            done = prepare(vigil.ctx)
        assert len(done.claims) == k
        assert len(statements) == expected, fail(f"a pass claiming {k}", expected,
                                                 statements)


@pytest.mark.xfail(strict=True, reason=(
    "N+1 in notify.delivery._claim_rows: two SELECT count(*) (sent in the last minute, "
    "being sent) per distinct (channel, address) a pass claims for"))
def test_claims_to_k_addresses_cost_the_same_as_to_one(vigil: Harness) -> None:
    log = StatementLog().attach(vigil.ctx.db)
    webhook(vigil)
    route(vigil, "first", "hook", "t0")
    incidents_of(vigil, "Warm", 1)
    prepare(vigil.ctx)
    incidents_of(vigil, "One", 1)
    with log.counting() as one:
        assert len(prepare(vigil.ctx).claims) == 1
    for i in range(1, 5):
        route(vigil, f"r{i}", "hook", f"t{i}")
    incidents_of(vigil, "Five", 1)  # one incident, five rules: five addresses
    with log.counting() as five:
        assert len(prepare(vigil.ctx).claims) == 5
    assert len(five) == len(one), fail("claims to 5 addresses", len(one), five)


@pytest.mark.xfail(strict=True, reason=(
    "N+1 in notify.delivery._claim_rows: one SELECT deliveries.provider_id (the first "
    "message's thread) per claimed email or Slack delivery about an incident"))
def test_email_claims_cost_the_same_for_k_incidents(vigil: Harness) -> None:
    log = StatementLog().attach(vigil.ctx.db)
    webhook(vigil, "mail", "email", smtp_host="127.0.0.1", smtp_port=9, security="none",
            from_address="vigil@example.com")
    route(vigil, "all", "mail", "ops@example.com")
    incidents_of(vigil, "Warm", 1)
    prepare(vigil.ctx)
    counts = []
    for k in (1, 5):
        incidents_of(vigil, f"K{k}", k)
        with log.counting() as statements:
            assert len(prepare(vigil.ctx).claims) == k
        counts.append(statements)
    assert len(counts[1]) == len(counts[0]), fail("5 email claims", len(counts[0]),
                                                  counts[1])


# --- the API --------------------------------------------------------------------------

#: GET /api/v1/incidents: two read transactions, whatever the page holds.
INCIDENT_PAGE = {d: (
    (d == "postgresql")  # pre-ping
    + 1   # BEGIN
    + 1   # SELECT the API key by prefix (auth)
    + 1   # ROLLBACK
    + (d == "postgresql")  # pre-ping
    + 1   # BEGIN
    + 1   # SELECT the page of incidents (limit + 1: is there a next page?)
    + 1   # ROLLBACK
) for d in TXN}


def test_the_incidents_page_costs_the_same_for_1_and_50_incidents(vigil: Harness) -> None:
    log = StatementLog().attach(vigil.ctx.db)
    vigil.client.get("/api/v1/incidents", headers=vigil.auth)
    expected = INCIDENT_PAGE[vigil.ctx.db.dialect]
    for k, total in ((1, 1), (49, 50)):
        incidents_of(vigil, f"Page{k}", k)
        with log.counting() as statements:
            resp = vigil.client.get("/api/v1/incidents", headers=vigil.auth)
        assert resp.status_code == 200, resp.text
        assert len(resp.json()["items"]) == total
        assert len(statements) == expected, fail(f"a page of {total}", expected, statements)
