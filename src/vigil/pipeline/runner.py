"""The edge that runs the core: gathers concurrent requests into one transaction
(group commit) and answers each only once its batch is durable."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection

from vigil.alerts import store
from vigil.alerts.dedup import Decision, Outcome, Result, decide
from vigil.clock import Clock
from vigil.configstate import versions_of
from vigil.core.submission import Submission
from vigil.correlation import store as correlation_store
from vigil.correlation.routing import Route, RuleSet, route_batch
from vigil.db import Database, locks
from vigil.errors import MalformedBody, Overloaded
from vigil.incidents import store as incident_store
from vigil.incidents.cache import IncidentCache
from vigil.incidents.grouping import IncidentDecision, group_alerts
from vigil.incidents.policy_service import policy_cache
from vigil.integrations import store as integration_store
from vigil.metrics import Metrics
from vigil.muting.apply import Muting, mutes
from vigil.muting.apply import save as save_flaps

log = logging.getLogger(__name__)
T = TypeVar("T")
RuleSets = dict[int, RuleSet]

_DEDUP_OUTCOMES = frozenset({Outcome.DEDUPLICATED.value, Outcome.REDELIVERED.value})


@dataclass(slots=True)
class _Request:
    batch: list[Submission]
    future: asyncio.Future[list[Result]]
    #: The batch's routes, worked out on arrival (off the writer thread) with the rule
    #: sets they were worked out with; the writer uses them only if those are still the
    #: sets it loads (the same object), else it routes the batch again.
    rules: RuleSets | None = None
    routes: list[Route | None] | None = None


def _settle(future: asyncio.Future[Any], value: Any, exc: BaseException | None) -> None:
    if future.done():  # cancelled meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)


def _lock_names(batch: list[Submission], routes: list[Route | None]) -> set[str]:
    """What two nodes must not decide at once: an alert (its fingerprint) and the incident
    group a trigger may open."""
    names = {locks.fingerprint_lock(s.tenant_id, s.fingerprint) for s in batch}
    names.update(locks.group_lock(s.tenant_id, r.key)
                 for s, r in zip(batch, routes, strict=True) if r is not None)
    return names


@dataclass(slots=True)
class _Job:
    """A write to run on the writer thread between two batches (``run_exclusive``)."""

    fn: Callable[[], Any]
    future: asyncio.Future[Any]


#: What the writer hands back to the event loop for one request: its results, or why not.
_Answer = tuple[_Request, list[Result] | None, BaseException | None]


class PipelineRunner:
    """Group commit on one writer thread. Requests queue up on the event loop; the writer
    takes whatever has queued each time it finishes a commit and starts the next at once
    (it does not wait for the event loop to hand it work, which under load would leave it
    idle between commits); answers go back to the event loop with ``call_soon_threadsafe``.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        metrics: Metrics,
        *,
        max_pending: int = 50_000,
        max_batch: int = 2_000,
        alert_events: bool = False,
    ) -> None:
        self.db = db
        self.clock = clock
        self.metrics = metrics
        self.max_pending = max_pending
        self.max_batch = max_batch
        self.alert_events = alert_events
        # Appended on the event loop, taken by the writer thread (deque's append and
        # popleft are atomic); ``_ready`` wakes the writer when it has nothing to do.
        self._queue: deque[_Request | _Job] = deque()
        self._ready = threading.Condition()
        self._pending = 0  # alerts queued or being committed (event loop only)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="vigil-writer")
        self._writer: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        #: Configuration state, cached while it does not change (``configstate``).
        versions = versions_of(db)
        self.muting = Muting.following(versions)
        self.silences = self.muting.silences
        self.rules = correlation_store.rule_cache(versions)
        self.policies = policy_cache(versions)
        #: The incidents this writer last wrote (SQLite; see incidents/cache.py).
        self.incidents = IncidentCache()
        self._marked: dict[int, float] = {}

    @property
    def queue_depth(self) -> int:
        return self._pending

    async def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self._writer = self._loop.run_in_executor(self._executor, self._work)

    async def stop(self) -> None:
        """Finish what was accepted into the queue, then stop."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._writer is not None:
            await self._writer
            self._writer = None
        self._executor.shutdown(wait=True)

    def _enqueue(self, item: _Request | _Job) -> None:
        with self._ready:
            self._queue.append(item)
            self._ready.notify()

    async def submit(self, batch: list[Submission]) -> list[Result]:
        if not batch:
            return []
        if self._writer is None or self._stopping:
            raise Overloaded("Vigil is starting or stopping; retry", retry_after=2)
        if self._pending and self._pending + len(batch) > self.max_pending:
            self.metrics.requests_rejected.labels("queue_full").inc()
            raise Overloaded(
                f"ingest queue is full ({self._pending} alerts waiting); retry", retry_after=1
            )
        future: asyncio.Future[list[Result]] = asyncio.get_running_loop().create_future()
        rules = self.rules.current()
        routes = None
        if rules is not None:
            try:
                routes = route_batch(rules, batch)
            except Exception:  # the writer routes it again and handles what goes wrong
                log.exception("routing ahead of the writer failed")
                rules = None
        self._pending += len(batch)
        self.metrics.queue_depth.set(self._pending)
        self._enqueue(_Request(batch, future, rules, routes))
        # The commit goes on even if the client goes away: shield it from cancellation.
        return await asyncio.shield(future)

    def _due_marks(self, batch: list[Submission]) -> set[int]:
        """Integrations whose "last received" is worth writing: at most once a second each,
        so a busy integration does not cost an UPDATE per batch."""
        now = time.monotonic()
        due = set()
        for s in batch:
            iid = s.integration_id
            if iid is not None and now - self._marked.get(iid, -1e9) >= 1.0:
                self._marked[iid] = now
                due.add(iid)
        return due

    async def run_exclusive(self, fn: Callable[[], T]) -> T:
        """Run a write on the writer thread, serialized with the pipeline's batches."""
        if self._writer is None or self._stopping:
            # Not started, or draining to stop: runs on the same thread after it.
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(_Job(fn, future))
        return await future

    # --- the writer thread ----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                if not self._queue:
                    return  # stopping, and everything accepted is done
            try:
                self._step()
            except Exception:  # never let the writer die: log, and take the next
                log.exception("pipeline writer step failed")

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    def _step(self) -> None:
        first = self._queue[0]
        if isinstance(first, _Job):
            self._queue.popleft()
            try:
                value = first.fn()
            except BaseException as exc:  # handed to the caller, as run_in_executor does
                self._post(_settle, first.future, None, exc)
            else:
                self._post(_settle, first.future, value, None)
            return
        taken: list[_Request] = []
        size = 0
        while self._queue:
            req = self._queue[0]
            if isinstance(req, _Job) or (taken and size + len(req.batch) > self.max_batch):
                break
            self._queue.popleft()
            taken.append(req)
            size += len(req.batch)
        answers: list[_Answer]
        try:
            results = self._commit([r.batch for r in taken],
                                   [(r.rules, r.routes) for r in taken])
            answers = [(req, res, None) for req, res in zip(taken, results, strict=True)]
        except Exception:
            # Isolate whatever broke the batch: each request commits (or fails) alone.
            answers = [self._commit_alone(req) for req in taken]
        self._post(self._deliver, answers)

    def _commit_alone(self, req: _Request) -> _Answer:
        try:
            (res,) = self._commit([req.batch], [(req.rules, req.routes)])
            return req, res, None
        except orjson.JSONEncodeError as exc:
            # JSON that parsed but cannot be stored (nested too deeply): the sender's
            # fault, answered 400 so it is not retried forever as a poison message.
            return req, None, MalformedBody(f"the body cannot be stored: {exc}", field="body")
        except Exception as exc:
            log.exception("pipeline commit failed")
            return req, None, Overloaded(f"storage error, nothing was applied: {exc}",
                                         retry_after=2)

    def _deliver(self, answers: list[_Answer]) -> None:
        """On the event loop: answer the requests of a commit."""
        for req, res, exc in answers:
            self._pending -= len(req.batch)
            _settle(req.future, res, exc)
        self.metrics.queue_depth.set(self._pending)

    def _commit(self, batches: list[list[Submission]],
                ahead: list[tuple[RuleSets | None, list[Route | None] | None]] | None = None,
                ) -> list[list[Result]]:
        started = time.perf_counter()
        flat = [s for b in batches for s in b]
        now = self.clock.now()
        cache = self.incidents if self.db.dialect == "sqlite" else None
        with self.db.exclusive():
            try:
                with self.db.write_engine.begin() as conn:
                    if cache is not None:
                        cache.begin(conn, self.db.writes)
                    decision, incidents = self._apply(conn, batches, ahead, flat, now, cache)
            except BaseException:
                if cache is not None:
                    cache.clear()  # its objects may hold what was rolled back
                raise
            if cache is not None:
                cache.committed(incidents)
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        self.db.restart_wal_if_due()
        self.metrics.batch_size.observe(len(flat))
        results: list[list[Result]] = []
        outcomes = decision.outcomes
        i = 0
        for b in batches:
            results.append([
                Result(alert.id, sub.fingerprint, outcome, alert.status) if alert is not None
                else Result(None, sub.fingerprint, outcome, None)
                for sub, (alert, outcome) in zip(b, outcomes[i:i + len(b)], strict=True)])
            i += len(b)
        counts = Counter((sub.event.source, outcome.value)
                         for sub, (_, outcome) in zip(flat, outcomes, strict=True))
        for (source, outcome_value), n in counts.items():
            self.metrics.alerts_received.labels(source, outcome_value).inc(n)
            if outcome_value in _DEDUP_OUTCOMES:
                self.metrics.alerts_deduplicated.inc(n)
        return results

    def _apply(self, conn: Connection, batches: list[list[Submission]],
               ahead: list[tuple[RuleSets | None, list[Route | None] | None]] | None,
               flat: list[Submission], now: datetime, cache: IncidentCache | None,
               ) -> tuple[Decision, IncidentDecision]:
        """The batch's work inside its transaction: route, decide, group, write."""
        rules = self.rules.get(conn)
        routes: list[Route | None] = []
        for n, batch in enumerate(batches):
            sets, known = ahead[n] if ahead is not None else (None, None)
            routes.extend(known if known is not None and sets is rules
                          else route_batch(rules, batch))
        if conn.dialect.name == "postgresql":  # SQLite: the write lock serializes
            locks.lock_keys(conn, _lock_names(flat, routes))
        open_alerts = store.load_open(conn, flat)
        resolved = store.load_last_resolved(conn, flat, open_alerts)
        muted, flaps = mutes(conn, self.muting, flat, open_alerts, now, resolved)
        decision = decide(open_alerts, flat, now, muted, outbox=self.alert_events,
                          resolved=resolved)
        assignments, _ = self.policies.get(conn)
        incidents = group_alerts(incident_store.load_for_batch(conn, decision, now, routes,
                                                            cache),
                              decision.outcomes, now, routes=routes,
                              assignments=assignments)
        incident_store.write_new(conn, incidents)
        store.write(conn, decision, alert_events=self.alert_events, moved=incidents.moved)
        save_flaps(conn, flaps, now)
        incident_store.write_changes(conn, incidents)
        integration_store.mark_received(conn, self._due_marks(flat), now)
        return decision, incidents
