"""The notifier: plans, claims, sends and records deliveries (``notify.delivery``) on its
own thread, so a slow SMTP server or webhook never holds up ingest. A delivery that dies
raises a Vigil self-alert (``source: vigil``), deduplicated per channel kind."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from vigil.context import Context
from vigil.notify import delivery
from vigil.oncall import engine
from vigil.pipeline.dedup import Submission
from vigil.pipeline.event import Action, AlertEvent, Severity
from vigil.pipeline.fingerprint import fingerprint

log = logging.getLogger(__name__)


@dataclass
class Pass:
    """A pass's first half (escalate, plan, claim) and what its second half sends."""

    claims: list[delivery.Claim]
    counts: dict[str, float] = field(default_factory=dict)


def prepare(ctx: Context) -> Pass:
    """Escalate, plan and claim (two transactions)."""
    now = ctx.clock.now()
    t0 = time.perf_counter()
    with ctx.db.read() as s:  # idle passes take no write lock: ingest never waits on them
        found = s.execute(select(engine.work_due(now), delivery.work_due(now))).one()
    escalate, deliver = bool(found[0]), bool(found[1])
    if escalate:
        with ctx.db.write() as s:
            # Escalations start (and due steps fire) here too, not only on the
            # scheduler's tick, so a page by escalation policy leaves within one pass.
            engine.run_pass(s, now)
            deliver = True  # it may have made intents
    t1 = time.perf_counter()
    planned, claims = 0, []
    if deliver:
        with ctx.db.write() as s:
            planned = delivery.plan(s, now)
            claims = delivery.claim(s, now, ctx.settings.base_url)
    t2 = time.perf_counter()
    return Pass(claims, {"planned": planned, "ms_escalate": round((t1 - t0) * 1000, 1),
                         "ms_plan_claim": round((t2 - t1) * 1000, 1)})


def finish(ctx: Context, done: Pass) -> dict[str, float]:
    """Send the claimed deliveries and record their outcomes; queue self-alerts for the
    dead ones."""
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
    ctx.state_dead.extend((d.tenant_id, d.channel_kind, d.last_error) for d in dead)
    sent = sum(1 for _, r in results if r.ok)
    return {**done.counts, "sent": sent, "failed": len(results) - sent, "dead": len(dead),
            "ms_send": round((t3 - t2) * 1000, 1),
            "ms_record": round((time.perf_counter() - t3) * 1000, 1)}


def run_once(ctx: Context) -> dict[str, float]:
    """One whole pass, in order; returns counts and leaves self-alerts for the caller to
    submit."""
    return finish(ctx, prepare(ctx))


def self_alerts(ctx: Context) -> list[Submission]:
    subs = []
    while ctx.state_dead:
        tenant_id, kind, error = ctx.state_dead.pop(0)
        ev = AlertEvent(action=Action.TRIGGER, source="vigil", name="NotificationFailed",
                        summary=f"Vigil could not deliver a {kind} notification: "
                                f"{error[:300]}",
                        severity=Severity.HIGH, service="vigil",
                        labels={"alertname": "NotificationFailed", "channel": kind,
                                "service": "vigil"})
        subs.append(Submission(tenant_id, None, fingerprint(ev, integration_id=0), ev))
    return subs


#: Passes whose sends are still under way while the next pass claims more.
IN_FLIGHT = 2


async def notifier_loop(ctx: Context) -> None:
    """Passes every ``notify_interval_seconds``. A pass's sends and records run while the
    next pass escalates, plans and claims (at most ``IN_FLIGHT`` at once): claimed rows
    are leased, and ``claim`` holds back news about an incident for a target while an
    earlier message to it is still being sent, so order per target is kept."""
    in_flight: set[asyncio.Task[None]] = set()

    async def second_half(done: Pass) -> None:
        try:
            counts = await asyncio.to_thread(finish, ctx, done)
            log.info("notifier: %s", counts)
            subs = self_alerts(ctx)
            if subs:
                await ctx.runner.submit(subs)
        except Exception:
            log.exception("notifier pass failed")

    try:
        while True:
            try:
                done = await asyncio.to_thread(prepare, ctx)
                if done.claims:
                    task = asyncio.create_task(second_half(done))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                elif done.counts.get("planned"):
                    log.info("notifier: %s", done.counts)
                while len(in_flight) >= IN_FLIGHT:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            except Exception:
                log.exception("notifier pass failed")
            await asyncio.sleep(ctx.settings.notify_interval_seconds)
    finally:
        if in_flight:  # let sends under way be recorded (they are leased either way)
            await asyncio.wait(in_flight, timeout=30)
