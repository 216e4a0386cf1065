"""The scheduler's tick: time-driven work that no alert triggers and no outbox consumer
owns: severity escalation and handoff notices. (The escalation engine's due steps belong to
its consumer, which the notifier runs: ``worker.consumers``.) Runs on the pipeline's writer
thread, so it never races a batch on the same node; PostgreSQL row locks cover other
nodes. Its failures count towards ``/health``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from vigil.context import Context
from vigil.incidents.policy_service import escalate_severities
from vigil.oncall.schedules.handoffs import notify_handoffs

log = logging.getLogger(__name__)


@dataclass
class TickResult:
    counts: dict[str, int]


def tick(ctx: Context) -> TickResult:
    now = ctx.clock.now()
    with ctx.db.write() as session:
        _, severity_rules = ctx.runner.policies.get(session.connection())
        raised = escalate_severities(session, severity_rules, now)
    with ctx.db.write() as session:
        handoffs = notify_handoffs(session, now)
    return TickResult({"severity_escalations": raised, "handoff_notices": handoffs})


async def tick_loop(ctx: Context) -> None:
    while True:
        try:
            done = await ctx.runner.run_exclusive(lambda: tick(ctx))
            ctx.liveness.succeeded("tick")
            if any(done.counts.values()):
                log.info("tick: %s", done.counts)
        except Exception as exc:
            ctx.liveness.failed("tick", exc)
            log.exception("tick failed")
        await asyncio.sleep(ctx.settings.tick_seconds)
