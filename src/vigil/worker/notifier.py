"""The notifier: plans, claims, sends and records deliveries (``notify.delivery``) on its
own thread, so a slow SMTP server or webhook never holds up ingest. A delivery that dies
raises a Vigil self-alert (``source: vigil``), deduplicated per channel kind."""

from __future__ import annotations

import asyncio
import logging

from vigil.context import Context
from vigil.notify import delivery
from vigil.oncall import engine
from vigil.pipeline.dedup import Submission
from vigil.pipeline.event import Action, AlertEvent, Severity
from vigil.pipeline.fingerprint import fingerprint

log = logging.getLogger(__name__)


def run_once(ctx: Context) -> dict[str, int]:
    """One pass; returns counts and leaves self-alerts for the caller to submit."""
    now = ctx.clock.now()
    base_url = ctx.settings.base_url
    with ctx.db.write() as s:
        # Escalations start (and due steps fire) here too, not only on the scheduler's
        # tick, so a page by escalation policy leaves within one notifier pass.
        engine.run_pass(s, now)
    with ctx.db.write() as s:
        planned = delivery.plan(s, now)
        claims = delivery.claim(s, now, base_url)
    results = delivery.send(claims)
    with ctx.db.write() as s:
        dead = delivery.record(s, results, ctx.clock.now(),
                               max_attempts=ctx.settings.notify_max_attempts)
    died = {d.id for d in dead}
    for c, r in results:
        status = "sent" if r.ok else "dead" if c.id in died else "retrying"
        ctx.metrics.notifications.labels(c.kind, status).inc()
        ctx.metrics.notification_seconds.labels(c.kind).observe(c.seconds)
    failed = [(d.tenant_id, d.channel_kind, d.last_error) for d in dead]
    ctx.state_dead.extend(failed)
    sent = sum(1 for _, r in results if r.ok)
    return {"planned": planned, "sent": sent, "failed": len(results) - sent,
            "dead": len(failed)}


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


async def notifier_loop(ctx: Context) -> None:
    while True:
        try:
            done = await asyncio.to_thread(run_once, ctx)
            if done["planned"] or done["sent"] or done["failed"]:
                log.info("notifier: %s", done)
            subs = self_alerts(ctx)
            if subs:
                await ctx.runner.submit(subs)
        except Exception:
            log.exception("notifier pass failed")
        await asyncio.sleep(ctx.settings.notify_interval_seconds)
