"""The scheduler's tick: time-driven work that no alert triggers: severity escalation, the
escalation engine (incidents starting and stopping escalation from the outbox; due steps
firing into notification intents) and handoff notices. Runs on the pipeline's writer
thread, so it never races a batch on the same node; PostgreSQL row locks cover other
nodes. Its failures count towards ``/health``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from vigil.context import Context
from vigil.core.submission import Submission
from vigil.incidents.policy_service import escalate_severities
from vigil.oncall.escalation import engine
from vigil.oncall.schedules.handoffs import notify_handoffs
from vigil.worker.notifier import escalation_alerts, raise_alerts, retry_policy

log = logging.getLogger(__name__)


@dataclass
class TickResult:
    counts: dict[str, int]
    alerts: list[Submission] = field(default_factory=list)


def tick(ctx: Context) -> TickResult:
    now = ctx.clock.now()
    with ctx.db.write() as session:
        _, severity_rules = ctx.runner.policies.rules(session.connection())
        raised = escalate_severities(session, severity_rules, now)
    with ctx.db.read() as session:
        # (the notifier's passes usually got there first)
        due = bool(session.scalar(select(engine.work_due(now))))
    done = engine.PassResult()
    if due:
        done = engine.run_pass(ctx.db, now, retry_policy(ctx))
    with ctx.db.write() as session:
        handoffs = notify_handoffs(session, now)
    return TickResult({"severity_escalations": raised, "escalations_started": done.started,
                       "escalations_stopped": done.stopped, "steps_fired": done.fired,
                       "notification_intents": done.intents, "handoff_notices": handoffs},
                      escalation_alerts(done))


async def tick_loop(ctx: Context) -> None:
    while True:
        try:
            done = await ctx.runner.run_exclusive(lambda: tick(ctx))
            ctx.liveness.succeeded("tick")
            if any(done.counts.values()):
                log.info("tick: %s", done.counts)
            await raise_alerts(ctx, done.alerts)
        except Exception as exc:
            ctx.liveness.failed("tick", exc)
            log.exception("tick failed")
        await asyncio.sleep(ctx.settings.tick_seconds)
