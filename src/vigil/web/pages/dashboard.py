"""The dashboard (``/ui``).

The dashboard is a handful of aggregate queries (incident counts by status and by
severity, alerts per hour over 24 hours, MTTA/MTTR over 7 days, kept while nothing changes) drawn
as inline SVG bar charts (``web.charts``), so it stays fast with 100,000s of incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, case, extract, func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vigil.alerts.models import AlertsPerHour
from vigil.configstate import StateCache
from vigil.context import Context, get_context
from vigil.core.severity import SEVERITY_LABELS
from vigil.core.status import OPEN_STATUSES, STATUSES
from vigil.db import Database
from vigil.incidents.models import Incident
from vigil.oncall.schedules import service as schedules_service
from vigil.outbox.models import OutboxEvent
from vigil.web.charts import Bar, bar_chart, duration
from vigil.web.pages.common import SEVERITIES, user_names
from vigil.web.render import Viewer, page, signed_in

router = APIRouter(include_in_schema=False)
HOURS = 24
WEEK = timedelta(days=7)
CACHE_FOR = timedelta(seconds=60)


def _week(conn: Connection, key: Any, now: datetime | None) -> dict[str, Any]:
    tenant_id, _version = key
    assert now is not None
    return response_times(conn, tenant_id, now - WEEK, now)


#: database -> the week's figures per (tenant, newest outbox id), for up to a minute
_WEEK_CACHE: WeakKeyDictionary[Database, StateCache[dict[str, Any]]] = WeakKeyDictionary()


def status_and_severity(session: Session,
                        tenant_id: int) -> tuple[dict[str, int], dict[str, int]]:
    """The incident counts per status (as ``counts_by_status``) and the open incidents per
    severity, from one grouped read of the covering index (tenant, status, pending,
    candidate, severity): one pass over the index, no table rows."""
    sev = Incident.severity + 0  # (keeps SQLite on the covering index)
    rows = session.execute(select(Incident.status, Incident.candidate, sev, func.count())
                           .where(Incident.tenant_id == tenant_id,
                                  Incident.pending.is_(False))
                           .group_by(Incident.status, Incident.candidate, sev))
    status = dict.fromkeys(STATUSES, 0)
    status["candidate"] = 0
    severity = dict.fromkeys(SEVERITIES, 0)
    for state, candidate, level, n in rows:
        if candidate:
            if state in OPEN_STATUSES:
                status["candidate"] += int(n)
            continue
        status[state] = status.get(state, 0) + int(n)
        if state in OPEN_STATUSES:
            label = SEVERITY_LABELS.get(int(level), str(level))
            severity[label] = severity.get(label, 0) + int(n)
    return status, severity


def alerts_per_hour(session: Session, tenant_id: int, now: datetime) -> list[tuple[datetime, int]]:
    """Alerts first received in each of the last 24 hours (the current one last), from the
    per-hour rollup the writer keeps (``alerts_per_hour``): 24 rows, however many alerts."""
    first = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
        hours=HOURS - 1)
    counts = {hour: n for hour, n in session.execute(
        select(AlertsPerHour.hour, AlertsPerHour.alerts).where(
            AlertsPerHour.tenant_id == tenant_id, AlertsPerHour.hour >= first))}
    hours = [first + timedelta(hours=i) for i in range(HOURS)]
    return [(h, counts.get(h, 0)) for h in hours]


def _seconds(conn: Connection, later: Any, earlier: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def response_times(conn: Connection, tenant_id: int, since: datetime,
                   until: datetime) -> dict[str, Any]:
    """MTTA and MTTR (means, overall and per severity) of the incidents created in
    ``[since, until)``, averaged in the database in one grouped query: the figures of
    ``incidents.analytics.summary`` without its medians, which need every row."""
    ack = _seconds(conn, Incident.acknowledged_at, Incident.created_at)
    res = _seconds(conn, Incident.resolved_at, Incident.created_at)
    rows = conn.execute(select(
        Incident.severity, func.count(), func.count(Incident.acknowledged_at), func.avg(ack),
        func.count(Incident.resolved_at), func.avg(res),
        func.sum(case((Incident.noise.is_(True), 1), else_=0))).where(
        Incident.tenant_id == tenant_id, Incident.created_at >= since,
        Incident.created_at < until, Incident.pending.is_(False),
        Incident.candidate.is_(False)).group_by(Incident.severity)).all()
    out: dict[str, Any] = {"incidents": 0, "noise": 0, "mtta": {}, "mttr": {}}
    totals = {"mtta": [0, 0.0], "mttr": [0, 0.0]}
    for level, n, n_ack, mean_ack, n_res, mean_res, noise in rows:
        sev = SEVERITY_LABELS.get(int(level), str(level))
        out["incidents"] += int(n)
        out["noise"] += int(noise or 0)
        for key, count, mean in (("mtta", n_ack, mean_ack), ("mttr", n_res, mean_res)):
            if count and mean is not None:
                out[key][sev] = {"count": int(count), "mean_s": float(mean)}
                totals[key][0] += int(count)
                totals[key][1] += int(count) * float(mean)
    for key, (count, total) in totals.items():
        out[key]["all"] = {"count": count, "mean_s": total / count if count else None}
    return out


def week_figures(ctx: Context, session: Session, tenant_id: int,
                 now: datetime) -> dict[str, Any]:
    """``response_times`` over the last 7 days, kept (per database and tenant) for up to a
    minute while no incident changes: every creation and every change of an incident's
    status, severity or noise mark writes an outbox event in its transaction, so the
    newest outbox id (one index lookup) says whether the figures still hold. (Timeline
    entries that change none of these, like the escalation engine's notes, do not
    count.)"""
    version = int(session.scalar(select(func.max(OutboxEvent.id))) or 0)
    cache = _WEEK_CACHE.get(ctx.db)
    if cache is None:
        cache = _WEEK_CACHE.setdefault(ctx.db, StateCache(_week, max_age=CACHE_FOR, limit=256))
    return cache.get(session.connection(), (tenant_id, version), now)


def _times(figures: dict[str, Any]) -> list[Bar]:
    return [Bar(sev, float(figures[sev]["mean_s"]), css=f"sev-{sev}",
                text=duration(figures[sev]["mean_s"]))
            for sev in SEVERITIES if sev in figures and figures[sev]["mean_s"] is not None]


def dashboard_data(ctx: Context, who: Viewer) -> dict[str, Any]:
    now = ctx.clock.now()
    with ctx.db.read() as s:
        status, severity = status_and_severity(s, who.tenant_id)
        hourly = alerts_per_hour(s, who.tenant_id, now)
        week = week_figures(ctx, s, who.tenant_id, now)
        on_call = schedules_service.on_call(s, tenant_id=who.tenant_id, at=now)
        names = user_names(s, who.tenant_id) if on_call else {}
    open_total = sum(status[k] for k in OPEN_STATUSES)
    charts = {
        "severity": bar_chart(
            [Bar(k, v, css=f"sev-{k}") for k, v in severity.items()],
            chart_id="chart-open-severity", title="Open incidents by severity",
            label_name="Severity", value_name="Open incidents", empty="No open incidents"),
        "hourly": bar_chart(
            [Bar(h.strftime("%H:00"), n) for h, n in hourly], chart_id="chart-alerts-hourly",
            title="Alerts received per hour, last 24 hours (UTC)", label_name="Hour (UTC)",
            value_name="Alerts", label_every=3, width=640, empty="No alerts in 24 hours"),
        "mtta": bar_chart(
            _times(week["mtta"]), chart_id="chart-mtta", fmt=duration,
            title="Mean time to acknowledge by severity, last 7 days",
            label_name="Severity", value_name="MTTA", empty="Nothing acknowledged"),
        "mttr": bar_chart(
            _times(week["mttr"]), chart_id="chart-mttr", fmt=duration,
            title="Mean time to resolve by severity, last 7 days",
            label_name="Severity", value_name="MTTR", empty="Nothing resolved"),
    }
    return {"by_status": status, "severity": severity, "open_total": open_total,
            "alerts_24h": sum(n for _, n in hourly), "week": week, "charts": charts,
            "on_call": on_call, "names": names}


@router.get("/ui", response_class=HTMLResponse)
async def dashboard(request: Request, who: Viewer = Depends(signed_in()),
                    ctx: Context = Depends(get_context)) -> Response:
    data = await run_in_threadpool(dashboard_data, ctx, who)
    return page(request, "dashboard.html", who, ctx, **data)
