"""The registry of outbox consumers: each has one owner and one schedule.

Every consumer is listed here once, in the order a pass runs them; the owner is the
notifier loop (``worker.notifier``), whose every pass runs the list through
``outbox.schedule.run_due`` before it claims deliveries. The order is the data flow: the
escalation engine turns incidents into pages (``notification.intent``) that the planner
turns into deliveries in the same pass, so a page by escalation policy leaves within one
notifier pass. ``/health`` and the consumer metrics report every consumer listed.

A new consumer is one line here: its module's ``Scheduled`` (name, outbox consumers, a
``due`` read and its pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from vigil.context import Context
from vigil.db import Database
from vigil.notify import planning
from vigil.oncall.escalation import engine
from vigil.outbox.consumer import Consumer, Retry
from vigil.outbox.schedule import Ran, Scheduled, run_due

CONSUMERS: tuple[Scheduled, ...] = (
    engine.SCHEDULED,  # incidents start, stop and fire escalations: pages
    planning.SCHEDULED,  # pages and routed incident events: deliveries
)


def outbox_consumers() -> list[Consumer[Any]]:
    """Every registered consumer's outbox consumers (for lag and ``/health``)."""
    return [c for sc in CONSUMERS for c in sc.consumers]


def retry_policy(ctx: Context) -> Retry:
    return Retry(ctx.settings.consumer_max_attempts,
                 timedelta(seconds=ctx.settings.consumer_backoff_seconds))


def run(db: Database, now: datetime, retry: Retry | None = None,
        due: Sequence[bool] | None = None) -> tuple[Ran, list[str]]:
    """One pass of every registered consumer that has work (see ``run_due``)."""
    return run_due(db, CONSUMERS, now, retry or Retry(), due)


def consume(ctx: Context, now: datetime | None = None,
            due: Sequence[bool] | None = None) -> tuple[Ran, list[str]]:
    """One pass of the registered consumers (at ``now``, else the context's time), as the
    notifier runs it, its failed attempts counted in the metrics. Returns what they did
    and which ran."""
    done, ran = run(ctx.db, now or ctx.clock.now(), retry_policy(ctx), due)
    for name, n in done.attempts_failed.items():
        ctx.metrics.consumer_failures.labels(name).inc(n)
    return done, ran
