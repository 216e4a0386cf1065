"""Is paging working? The answer behind ``/health``, ``/metrics``, the admins' banner and
the heartbeat to an external dead man's switch.

Paging is degraded while an outbox consumer's oldest unhandled event (new, or failed and
waiting to be retried) is older than ``VIGIL_HEALTH_LAG_SECONDS``, or while the scheduler
tick or the notifier has failed ``VIGIL_HEALTH_MAX_FAILURES`` passes in a row. Events a
consumer parked are not lag: they were announced by a ``VigilConsumerFailed`` self-alert.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from vigil.context import Context
from vigil.notify import stored_secrets
from vigil.outbox import consumer as outbox_consumer
from vigil.outbox.consumer import Consumer
from vigil.worker.consumers import outbox_consumers
from vigil.worker.liveness import Report

log = logging.getLogger(__name__)

#: The background loops whose failures count (see worker/tick.py, worker/notifier.py).
LOOPS = ("tick", "notifier")


def consumers() -> list[Consumer[Any]]:
    """Every registered consumer's (``worker.consumers``): each has its lag reported."""
    return outbox_consumers()


def check(ctx: Context) -> Report:
    """A fresh report (reads the database); also stored for the banner and exported to
    the metrics."""
    now = ctx.clock.now()
    reasons: list[str] = []
    rows: list[dict[str, object]] = []
    try:
        with ctx.db.read() as s:
            lags = [outbox_consumer.lag(s, c) for c in consumers()]
    except Exception as exc:
        report = Report(False, (f"the database does not answer: {type(exc).__name__}",),
                        (), time.time())
        ctx.liveness.report = report
        ctx.metrics.healthy.set(0)
        return report
    limit = ctx.settings.health_lag_seconds
    for lag in lags:
        seconds = lag.seconds(now)
        ctx.metrics.consumer_lag.labels(lag.consumer).set(seconds)
        ctx.metrics.consumer_parked.labels(lag.consumer).set(lag.parked)
        ctx.metrics.consumer_retrying.labels(lag.consumer).set(lag.retrying)
        rows.append({"name": lag.consumer, "lag_seconds": round(seconds, 3),
                     "waiting": lag.waiting, "retrying": lag.retrying, "parked": lag.parked})
        if seconds > limit:
            reasons.append(f"the {lag.consumer} consumer is {seconds:.0f} s behind "
                           f"({lag.waiting} events waiting, {lag.retrying} being retried)")
    for loop in LOOPS:
        failed = ctx.liveness.failures.get(loop, 0)
        ctx.metrics.loop_failures.labels(loop).set(failed)
        if failed >= ctx.settings.health_max_failures:
            reasons.append(f"the {loop} has failed {failed} passes in a row: "
                           f"{ctx.liveness.last_error.get(loop, '')}")
    reasons += stored_secrets.health_reasons(ctx.db, ctx.settings)
    for name, at in ctx.liveness.last_ok.items():
        ctx.metrics.consumer_last_success.labels(name).set(at)
    report = Report(not reasons, tuple(reasons), tuple(rows), time.time())
    ctx.liveness.report = report
    ctx.metrics.healthy.set(1 if report.ok else 0)
    return report


async def monitor_loop(ctx: Context) -> None:
    """Keeps the stored report fresh (every 5 s) and, while healthy, pings the heartbeat
    URL every ``VIGIL_HEARTBEAT_INTERVAL_SECONDS``, so that a Vigil that died or cannot
    page is noticed from outside (like Alertmanager's Watchdog alert)."""
    settings = ctx.settings
    last_beat = 0.0
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            try:
                report = await asyncio.to_thread(check, ctx)
                if settings.heartbeat_url and report.ok and \
                        time.monotonic() - last_beat >= settings.heartbeat_interval_seconds:
                    last_beat = time.monotonic()
                    await _beat(client, ctx)
            except Exception:
                log.exception("health monitor failed")
            await asyncio.sleep(min(5.0, settings.heartbeat_interval_seconds))


async def _beat(client: httpx.AsyncClient, ctx: Context) -> None:
    s = ctx.settings
    headers = {"Authorization": s.heartbeat_authorization} if s.heartbeat_authorization \
        else {}
    try:
        if s.heartbeat_method.upper() == "GET":
            answer = await client.get(s.heartbeat_url, headers=headers)
        else:
            answer = await client.post(s.heartbeat_url, headers=headers, json={
                "status": "ok", "source": "vigil", "base_url": s.base_url})
        if answer.status_code >= 400:
            log.warning("heartbeat to %s answered %d", s.heartbeat_url, answer.status_code)
    except httpx.HTTPError as exc:
        log.warning("heartbeat to %s failed: %s", s.heartbeat_url, exc)
