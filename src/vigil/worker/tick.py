"""The scheduler's tick: time-driven work that no alert triggers: severity escalation, and
the escalation engine (incidents starting and stopping escalation from the outbox; due
steps firing into notification intents). Runs on the pipeline's writer
thread, so it never races a batch on the same node; PostgreSQL row locks cover other
nodes."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from vigil.context import Context
from vigil.incidents.policy_service import escalate_severities
from vigil.oncall import engine
from vigil.oncall.handoffs import notify_handoffs

log = logging.getLogger(__name__)


def tick(ctx: Context) -> dict[str, int]:
    now = ctx.clock.now()
    with ctx.db.write() as session:
        _, severity_rules = ctx.runner.policies.rules(session.connection())
        raised = escalate_severities(session, severity_rules, now)
    with ctx.db.read() as session:
        # (the notifier's passes usually got there first)
        due = bool(session.scalar(select(engine.work_due(now))))
    done = engine.PassResult()
    if due:
        with ctx.db.write() as session:
            done = engine.run_pass(session, now)
    with ctx.db.write() as session:
        handoffs = notify_handoffs(session, now)
    return {"severity_escalations": raised, "escalations_started": done.started,
            "escalations_stopped": done.stopped, "steps_fired": done.fired,
            "notification_intents": done.intents, "handoff_notices": handoffs}


async def tick_loop(ctx: Context) -> None:
    while True:
        try:
            done = await ctx.runner.run_exclusive(lambda: tick(ctx))
            if any(done.values()):
                log.info("tick: %s", done)
        except Exception:
            log.exception("tick failed")
        await asyncio.sleep(ctx.settings.tick_seconds)
