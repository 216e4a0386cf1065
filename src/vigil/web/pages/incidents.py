"""Incident pages: the list (status tabs, filters, keyset pages, bulk actions, keyboard
shortcuts, live rows) and one incident (header, escalation, actions, alerts, timeline).

Pages only read; every change goes through the JSON API (``/api/v1/incidents/...``) from
``/static/incidents.js`` with the session cookie and the CSRF header, so the API's role
checks apply to the UI as they do to API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vigil.auth.models import User
from vigil.context import Context, get_context
from vigil.core.severity import SEVERITY_LABELS, SEVERITY_NAMES
from vigil.core.status import OPEN_STATUSES
from vigil.errors import InvalidInput, NotFound
from vigil.http.ids import MAX_ID, BigIdPath, BigIdQuery
from vigil.incidents import service
from vigil.incidents.models import Incident
from vigil.oncall.escalation import view as escalation_view
from vigil.oncall.models import EscalationPolicyRow, ScheduleRow
from vigil.web.render import Viewer, page, signed_in

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_ROWS = 100
#: One incident's page shows this many of its alerts (newest first) and of its timeline
#: (the newest, oldest first); links page on to the rest, so a huge incident stays quick.
ALERTS_SHOWN = 50
TIMELINE_SHOWN = 100

#: tab -> (label, statuses it lists; None for candidates)
TABS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "open": ("Open", OPEN_STATUSES),
    "firing": ("Firing", ("firing",)),
    "acknowledged": ("Acknowledged", ("acknowledged",)),
    "investigating": ("Investigating", ("investigating",)),
    "resolved": ("Resolved", ("resolved",)),
    "closed": ("Closed", ("closed",)),
    "candidates": ("Candidates", None),
}
SORT_OPTIONS = (("-created_at", "Newest first"), ("created_at", "Oldest first"),
                ("-last_seen_at", "Recently seen"), ("-severity", "Most severe"))
SEVERITIES = SEVERITY_NAMES
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
FILTERS = ("severity", "priority", "service", "team", "assignee", "q")
#: New incidents are inserted live into these tabs (when nothing else narrows the list).
LIVE_TABS = ("open", "firing")


@dataclass(frozen=True)
class ListQuery:
    tab: str
    sort: str
    cursor: str
    values: dict[str, str]

    @property
    def filtered(self) -> bool:
        return any(self.values.values())

    def url(self, **changes: str) -> str:
        params = {"tab": self.tab, **self.values, "sort": self.sort, **changes}
        if params.get("sort") == SORT_OPTIONS[0][0]:
            del params["sort"]
        return "/ui/incidents?" + urlencode({k: v for k, v in params.items() if v})


def _tab_counts(counts: dict[str, int]) -> dict[str, int]:
    out = {tab: sum(counts.get(s, 0) for s in statuses)
           for tab, (_, statuses) in TABS.items() if statuses is not None}
    out["candidates"] = counts.get("candidate", 0)
    return out


def _filters(query: ListQuery) -> service.IncidentFilter:
    v = query.values
    statuses = TABS[query.tab][1]
    if v["severity"] and v["severity"] not in SEVERITIES:
        raise InvalidInput(f"severity must be one of {', '.join(SEVERITIES)}",
                           field="severity")
    if v["priority"] and v["priority"] not in PRIORITIES:
        raise InvalidInput(f"priority must be one of {', '.join(PRIORITIES)}",
                           field="priority")
    return service.IncidentFilter(
        status=list(statuses) if statuses else None,
        severity=[v["severity"]] if v["severity"] else None,
        priority=[v["priority"]] if v["priority"] else None,
        service=v["service"] or None, team=v["team"] or None,
        assignee=v["assignee"] or None, text=v["q"] or None, candidate=statuses is None)


@router.get("/ui/incidents", response_class=HTMLResponse)
async def incident_list(
    request: Request, tab: str = "open", severity: str = "", priority: str = "",
    service_: str = Query("", alias="service"), team: str = "", assignee: str = "",
    q: str = "", sort: str = "-created_at", cursor: str = "",
    who: Viewer = Depends(signed_in()), ctx: Context = Depends(get_context),
) -> Response:
    """One ``list_incidents`` query and one ``counts_by_status``; never the alerts."""
    query = ListQuery(
        tab=tab if tab in TABS else "open",
        sort=sort if sort in dict(SORT_OPTIONS) else SORT_OPTIONS[0][0],
        cursor=cursor.strip(),
        values={"severity": severity.strip().lower(), "priority": priority.strip().upper(),
                "service": service_.strip(), "team": team.strip(),
                "assignee": assignee.strip(), "q": q.strip()})

    def run() -> Response:
        rows: list[Incident] = []
        nxt: str | None = None
        error = None
        with ctx.db.read() as s:
            try:
                rows, nxt = service.list_incidents(
                    s, tenant_id=who.tenant_id, filters=_filters(query), sort=query.sort,
                    limit=PAGE_SIZE, cursor=query.cursor or None)
            except InvalidInput as exc:
                error = exc.message
            counts = _tab_counts(service.counts_by_status(s, tenant_id=who.tenant_id))
            live = (query.tab in LIVE_TABS and not query.filtered and not query.cursor
                    and query.sort == SORT_OPTIONS[0][0])
            return page(request, "incidents.html", who, ctx, status=400 if error else 200,
                        incidents=rows, next_url=query.url(cursor=nxt) if nxt else None,
                        first_url=query.url() if query.cursor else None, query=query,
                        tabs=TABS, counts=counts, sorts=SORT_OPTIONS, severities=SEVERITIES,
                        priorities=PRIORITIES, error=error, live=live,
                        tab_statuses=" ".join(TABS[query.tab][1] or ()))
    return await run_in_threadpool(run)


def _ids(raw: list[str]) -> list[int]:
    out: list[int] = []
    for chunk in raw:
        for part in chunk.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise InvalidInput("ids must be incident ids", field="ids")
            out.append(int(part))
    if len(out) > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} ids", field="ids")
    return list(dict.fromkeys(out))


@router.get("/ui/incidents/rows", response_class=HTMLResponse)
async def incident_rows(request: Request, ids: list[str] = Query(default_factory=list),
                        who: Viewer = Depends(signed_in()),
                        ctx: Context = Depends(get_context)) -> Response:
    """Table rows (``_incident_rows.html``) for the given incidents, newest first; for live
    updates and in-place refreshes. ``ids=1,2`` or ``ids=1&ids=2``; unknown ids are left
    out."""
    wanted = _ids(ids)

    def run() -> Response:
        with ctx.db.read() as s:
            rows = list(s.scalars(select(Incident).where(
                Incident.tenant_id == who.tenant_id, Incident.id.in_(wanted),
                Incident.pending.is_(False)).order_by(Incident.id.desc()))) if wanted else []
            return page(request, "_incident_rows.html", who, ctx, incidents=rows)
    return await run_in_threadpool(run)


@router.get("/ui/incidents/lookup")
async def incident_lookup(number: str = "", who: Viewer = Depends(signed_in()),
                          ctx: Context = Depends(get_context)) -> JSONResponse:
    """``INC-42`` or ``42`` -> ``{"id": ..., "number": 42}`` (for "merge into INC-...")."""
    raw = number.strip().upper().removeprefix("INC-")
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput("give an incident number, like INC-42", field="number")
    if len(raw) > 10 or int(raw) > MAX_ID:  # beyond the column: no such incident
        raise NotFound(f"no incident INC-{raw}", field="number")

    def run() -> dict[str, int]:
        with ctx.db.read() as s:
            found = s.scalar(select(Incident.id).where(Incident.tenant_id == who.tenant_id,
                                                       Incident.number == int(raw)))
            if found is None:
                raise NotFound(f"no incident INC-{int(raw)}", field="number")
            return {"id": int(found), "number": int(raw)}
    return JSONResponse(await run_in_threadpool(run))


def duration(start: datetime | None, end: datetime | None) -> str | None:
    """``1d 2h``, ``3h 5m``, ``4m 10s``, ``12s``; None when either end is missing."""
    if start is None or end is None:
        return None
    s = max(int((end - start).total_seconds()), 0)
    d, h, m, sec = s // 86400, s % 86400 // 3600, s % 3600 // 60, s % 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    if m:
        return f"{m}m {sec}s"
    return f"{sec}s"


def relative(at: datetime | None, now: datetime) -> str:
    """``in 4m 59s``, ``3m 0s ago``, ``now``."""
    if at is None:
        return "—"
    if abs((at - now).total_seconds()) < 1:
        return "now"
    return f"in {duration(now, at)}" if at > now else f"{duration(at, now)} ago"


#: How soon an incident page looks again while its escalation is about to change: pages
#: being sent, an escalation about to start or a step just fired (the notifier starts
#: escalations and plans pages within seconds), and just after the next step is due.
REFRESH_PAGES = timedelta(seconds=5)
REFRESH_SOON = timedelta(seconds=2)
SOON_FOR = timedelta(seconds=30)
REFRESH_AFTER_DUE = timedelta(seconds=1)
REFRESH_MAX = timedelta(hours=6)


def refresh_in(view: dict[str, Any], inc: Incident, now: datetime) -> int | None:
    """Milliseconds until the page should reload its live sections, or None."""
    waits: list[timedelta] = []
    nxt = view["next_step"]
    if nxt is not None:
        waits.append(max(nxt["at"] - now, timedelta(0)) + REFRESH_AFTER_DUE)
    if any(p["status"] in escalation_view.PAGES_UNDER_WAY for p in view["pages"]):
        waits.append(REFRESH_PAGES)
    if (view["status"] == "none" and view["policy"] and inc.status == "firing"
            and not inc.candidate and not inc.pending
            and now - inc.created_at < SOON_FOR):
        waits.append(REFRESH_SOON)
    step = view["step"]
    if step is not None and now - step["fired_at"] < SOON_FOR:
        waits.append(REFRESH_SOON)
    if not waits:
        return None
    return int(min(min(waits), REFRESH_MAX).total_seconds() * 1000)


#: The incident statuses whose escalation can be reassigned (as the API checks).
REASSIGNABLE = ("firing", "acknowledged", "investigating")


def reassign_choices(s: Session, tenant_id: int) -> dict[str, list[tuple[str, str]]]:
    """What "Reassign" offers: (value, label) per policy, person and schedule."""
    return {
        "policies": [(n, n) for n in s.scalars(select(EscalationPolicyRow.name).where(
            EscalationPolicyRow.tenant_id == tenant_id).order_by(EscalationPolicyRow.name))],
        "users": [(u, f"{n} ({u})") for u, n in s.execute(select(User.username, User.name)
                  .where(User.tenant_id == tenant_id).order_by(User.username))],
        "schedules": [(n, n) for n in s.scalars(select(ScheduleRow.name).where(
            ScheduleRow.tenant_id == tenant_id).order_by(ScheduleRow.name))],
    }


#: status -> the lifecycle buttons that make sense from it
STATUS_ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "firing": (("acknowledge", "Acknowledge"), ("investigate", "Investigate"),
               ("resolve", "Resolve")),
    "acknowledged": (("investigate", "Investigate"), ("resolve", "Resolve")),
    "investigating": (("resolve", "Resolve"),),
    "resolved": (("close", "Close"), ("reopen", "Reopen")),
}


@router.get("/ui/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(request: Request, incident_id: BigIdPath,
                        alerts_before: BigIdQuery = None,
                        timeline_before: BigIdQuery = None,
                        who: Viewer = Depends(signed_in()),
                        ctx: Context = Depends(get_context)) -> Response:
    """The header, the escalation (as ``GET /api/v1/incidents/{id}/escalation`` tells it),
    ``ALERTS_SHOWN`` alerts and the newest ``TIMELINE_SHOWN`` timeline entries;
    ``alerts_before`` / ``timeline_before`` (ids) page back through the rest."""
    def run() -> Response:
        now = ctx.clock.now()
        with ctx.db.read() as s:
            inc = service.get_incident(s, tenant_id=who.tenant_id, incident_id=incident_id)
            escalation = escalation_view.load(s, inc)
            can_reassign = (who.can("responder") and inc.status in REASSIGNABLE
                            and not inc.candidate and not inc.pending)
            choices = reassign_choices(s, who.tenant_id) if can_reassign else None
            alerts = service.incident_alerts(s, incident_id=inc.id, limit=ALERTS_SHOWN + 1,
                                             before=alerts_before)
            more_alerts = len(alerts) > ALERTS_SHOWN
            alerts = alerts[:ALERTS_SHOWN]
            events, earlier = service.recent_timeline(
                s, incident_id=inc.id, limit=TIMELINE_SHOWN, before=timeline_before)
            base = f"/ui/incidents/{inc.id}"
            paging = {
                "alerts_next": f"{base}?alerts_before={alerts[-1].id}#incident-alerts"
                if more_alerts else None,
                "alerts_first": f"{base}#incident-alerts" if alerts_before else None,
                "timeline_earlier": f"{base}?timeline_before={events[0].id}#incident-timeline"
                if earlier else None,
                "timeline_latest": f"{base}#incident-timeline" if timeline_before else None,
            }
            other_ids = [*inc.related_ids, *([inc.merged_into_id] if inc.merged_into_id else [])]
            others = {o.id: o for o in s.scalars(select(Incident).where(
                Incident.tenant_id == who.tenant_id, Incident.id.in_(other_ids)))} \
                if other_ids else {}
            related = [others[i] for i in inc.related_ids if i in others]
            merged_into = others.get(inc.merged_into_id) if inc.merged_into_id else None
            actions: tuple[tuple[str, str], ...] = () if inc.candidate else \
                STATUS_ACTIONS.get(inc.status, ())
            done = inc.status in ("merged", "deleted")
            return page(
                request, "incident.html", who, ctx, inc=inc, alerts=alerts, events=events,
                paging=paging, escalation=escalation, choices=choices, rel=relative,
                refresh_ms=refresh_in(escalation, inc, now),
                related=related, merged_into=merged_into, status_actions=actions,
                done=done, severities=SEVERITIES, priorities=PRIORITIES,
                severity=SEVERITY_LABELS.get(inc.severity, str(inc.severity)),
                tta=duration(inc.created_at, inc.acknowledged_at),
                ttr=duration(inc.created_at, inc.resolved_at),
                open_for=None if inc.resolved_at else duration(inc.created_at, now))
    return await run_in_threadpool(run)

