"""The notifier: runs the outbox consumers (``worker.consumers``: the escalation engine,
then the planner), then claims, sends and records deliveries (``notify.delivery``) on
threads of its own, so a slow SMTP server or webhook never holds up ingest. It is the one
owner of every registered consumer, and its pass their one schedule. What went wrong comes
back as values and becomes self-alerts (``worker.self_alerts``); the loop submits them
through the pipeline like any alert."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import exists, select

from vigil.context import Context
from vigil.core.submission import Submission
from vigil.notify import delivery, planning
from vigil.outbox.schedule import due_checks
from vigil.worker import consumers
from vigil.worker.self_alerts import self_alerts

log = logging.getLogger(__name__)


@dataclass
class Pass:
    """A pass's first half (the consumers, then claims) and what its second half sends."""

    claims: list[delivery.Claim]
    counts: dict[str, float] = field(default_factory=dict)
    alerts: list[Submission] = field(default_factory=list)


@dataclass
class Report:
    """A whole pass: its counts and the self-alerts to raise."""

    counts: dict[str, float]
    alerts: list[Submission]


def prepare(ctx: Context) -> Pass:
    """Run the registered consumers (escalate, plan), then claim."""
    now = ctx.clock.now()
    t0 = time.perf_counter()
    with ctx.db.read() as s:  # one read: an idle pass takes no write lock, ingest never waits
        *due, deliverable = s.execute(select(
            *due_checks(consumers.CONSUMERS, now), exists().where(delivery.is_due(now)))).one()
    ran, names = consumers.consume(ctx, now, due)
    t1 = time.perf_counter()
    claims: list[delivery.Claim] = []
    # The planner, if it ran, may have made deliveries due now.
    claimable = bool(deliverable) or planning.CURSOR in names
    if claimable:
        with ctx.db.write() as s:
            claims = delivery.claim(s, now, ctx.settings.base_url)
    t2 = time.perf_counter()
    counts: dict[str, float] = {**ran.counts, "ms_consume": round((t1 - t0) * 1000, 1),
                                "ms_claim": round((t2 - t1) * 1000, 1)}
    return Pass(claims, counts, self_alerts(ran))


def finish(ctx: Context, done: Pass) -> Report:
    """Send the claimed deliveries and record their outcomes."""
    t2 = time.perf_counter()
    results = delivery.send(done.claims)
    t3 = time.perf_counter()
    with ctx.db.write() as s:
        dead = delivery.record(s, results, ctx.clock.now(),
                               max_attempts=ctx.settings.notify_max_attempts)
    died = {d.id for d in dead}
    for c, r in results:
        status = "sent" if r.ok else "dead" if c.id in died else "retrying"
        ctx.metrics.notifications.labels(c.kind, status).inc()
        ctx.metrics.notification_seconds.labels(c.kind).observe(c.seconds)
    sent = sum(1 for _, r in results if r.ok)
    counts = {**done.counts, "sent": sent, "failed": len(results) - sent, "dead": len(dead),
              "ms_send": round((t3 - t2) * 1000, 1),
              "ms_record": round((time.perf_counter() - t3) * 1000, 1)}
    return Report(counts, [*done.alerts, *self_alerts(dead=dead)])


def run_once(ctx: Context) -> Report:
    """One whole pass, in order."""
    return finish(ctx, prepare(ctx))


#: Passes whose sends are still under way while the next pass claims more.
IN_FLIGHT = 2


async def raise_alerts(ctx: Context, alerts: list[Submission]) -> None:
    if alerts:
        await ctx.runner.submit(alerts)


async def notifier_loop(ctx: Context) -> None:
    """Passes every ``notify_interval_seconds``. A pass's sends and records run while the
    next pass escalates, plans and claims (at most ``IN_FLIGHT`` at once): claimed rows
    are leased, and ``claim`` holds back news about an incident for a target while an
    earlier message to it is still being sent, so order per target is kept."""
    in_flight: set[asyncio.Task[None]] = set()

    async def second_half(done: Pass) -> None:
        try:
            report = await asyncio.to_thread(finish, ctx, done)
            log.info("notifier: %s", report.counts)
            await raise_alerts(ctx, report.alerts)
        except Exception as exc:
            ctx.liveness.failed("notifier", exc)
            log.exception("notifier pass failed")

    try:
        while True:
            try:
                done = await asyncio.to_thread(prepare, ctx)
                if done.claims:
                    task = asyncio.create_task(second_half(done))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                else:
                    await raise_alerts(ctx, done.alerts)
                    if done.counts.get("planned"):
                        log.info("notifier: %s", done.counts)
                ctx.liveness.succeeded("notifier")
                while len(in_flight) >= IN_FLIGHT:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            except Exception as exc:
                ctx.liveness.failed("notifier", exc)
                log.exception("notifier pass failed")
            await asyncio.sleep(ctx.settings.notify_interval_seconds)
    finally:
        if in_flight:  # let sends under way be recorded (they are leased either way)
            await asyncio.wait(in_flight, timeout=30)
