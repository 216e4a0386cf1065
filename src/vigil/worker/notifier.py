"""The notifier: escalates, plans, claims, sends and records deliveries
(``oncall.engine``, ``notify.planning``, ``notify.delivery``) on threads of its own, so a
slow SMTP server or webhook never holds up ingest. What went wrong comes back as values:
a delivery that died raises a ``NotificationFailed`` self-alert (one per channel kind), an
outbox event a consumer parked or an escalation step that failed a ``VigilConsumerFailed``
one (one per consumer); the loop submits them through the pipeline like any alert."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from vigil.context import Context
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.core.submission import Submission
from vigil.notify import delivery, planning
from vigil.oncall.escalation import engine
from vigil.outbox.consumer import Parked, Retry

log = logging.getLogger(__name__)


@dataclass
class Pass:
    """A pass's first half (escalate, plan, claim) and what its second half sends."""

    claims: list[delivery.Claim]
    counts: dict[str, float] = field(default_factory=dict)
    alerts: list[Submission] = field(default_factory=list)


@dataclass
class Report:
    """A whole pass: its counts and the self-alerts to raise."""

    counts: dict[str, float]
    alerts: list[Submission]


def retry_policy(ctx: Context) -> Retry:
    return Retry(ctx.settings.consumer_max_attempts,
                 timedelta(seconds=ctx.settings.consumer_backoff_seconds))


def prepare(ctx: Context) -> Pass:
    """Escalate, plan and claim."""
    now = ctx.clock.now()
    retry = retry_policy(ctx)
    t0 = time.perf_counter()
    with ctx.db.read() as s:  # idle passes take no write lock: ingest never waits on them
        found = s.execute(select(engine.work_due(now), planning.work_due(now))).one()
    escalate, deliver = bool(found[0]), bool(found[1])
    alerts: list[Submission] = []
    if escalate:
        # Escalations start (and due steps fire) here too, not only on the scheduler's
        # tick, so a page by escalation policy leaves within one pass.
        done = engine.run_pass(ctx.db, now, retry)
        alerts += escalation_alerts(done)
        deliver = True  # it may have made intents
    t1 = time.perf_counter()
    made, claims = 0, []
    if deliver:
        planned = planning.plan(ctx.db, now, retry)
        made = planned.made
        alerts += [consumer_alert(p) for p in planned.outcome.parked]
        ctx.metrics.consumer_failures.labels(planning.CURSOR).inc(planned.outcome.failed)
        with ctx.db.write() as s:
            claims = delivery.claim(s, now, ctx.settings.base_url)
    t2 = time.perf_counter()
    return Pass(claims, {"planned": made, "ms_escalate": round((t1 - t0) * 1000, 1),
                         "ms_plan_claim": round((t2 - t1) * 1000, 1)}, alerts)


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
    return Report(counts, [*done.alerts, *(delivery_alert(d) for d in dead)])


def run_once(ctx: Context) -> Report:
    """One whole pass, in order."""
    return finish(ctx, prepare(ctx))


def _vigil_alert(tenant_id: int, name: str, summary: str, severity: Severity,
                 labels: dict[str, str]) -> Submission:
    ev = AlertEvent(action=Action.TRIGGER, source="vigil", name=name, summary=summary,
                    severity=severity, service="vigil",
                    labels={"alertname": name, "service": "vigil", **labels})
    return Submission(tenant_id, None, fingerprint(ev, integration_id=0), ev)


def delivery_alert(d: delivery.Dead) -> Submission:
    return _vigil_alert(d.tenant_id, "NotificationFailed",
                        f"Vigil could not deliver a {d.channel_kind} notification: "
                        f"{d.last_error[:300]}", Severity.HIGH, {"channel": d.channel_kind})


def consumer_alert(p: Parked) -> Submission:
    where = f" of INC {p.incident_id}" if p.incident_id else ""
    return _vigil_alert(
        p.tenant_id, "VigilConsumerFailed",
        f"Vigil's {p.consumer} consumer set aside {p.topic} event {p.event_id}{where} after "
        f"repeated failures; replay it with `vigil outbox replay` once fixed: "
        f"{p.error[:300]}", Severity.CRITICAL, {"consumer": p.consumer})


def escalation_alerts(done: engine.PassResult) -> list[Submission]:
    alerts = [consumer_alert(p) for p in done.parked]
    for tenant_id, incident_id, error in done.failed:
        alerts.append(_vigil_alert(
            tenant_id, "VigilConsumerFailed",
            f"Vigil could not fire an escalation step of incident {incident_id}: {error}",
            Severity.CRITICAL, {"consumer": "escalation-steps"}))
    return alerts


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
