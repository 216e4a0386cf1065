"""On-call pages: who is on call now everywhere (``/ui/oncall``), and one schedule as a week
or month calendar of its final shifts, with its layers, overrides, swaps, quality report,
the override and swap forms and its iCalendar subscription URL."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.context import Context, get_context
from vigil.errors import InvalidInput, NotFound
from vigil.http.ids import IdPath
from vigil.oncall.people import service as people_service
from vigil.oncall.schedules import service as svc
from vigil.oncall.schedules import shifts as q
from vigil.oncall.schedules.definition import Layer, Schedule, Shift, Unit
from vigil.web.pages.common import DASH, not_found, user_names
from vigil.web.render import Viewer, page, signed_in

router = APIRouter(include_in_schema=False)
VIEWS = ("week", "month")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY = timedelta(days=1)


@router.get("/ui/oncall", response_class=HTMLResponse)
async def oncall(request: Request, who: Viewer = Depends(signed_in()),
                 ctx: Context = Depends(get_context)) -> Response:
    """Every schedule's on-call set and next handoff, and every team's members."""
    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.read() as s:
            schedules = svc.on_call(s, tenant_id=who.tenant_id, at=now)
            teams = people_service.list_teams(s, tenant_id=who.tenant_id)
            names = user_names(s, who.tenant_id)
            s.expunge_all()
        on_now = {u for sch in schedules for u in sch["on_call"]}
        handoffs = sorted((sch for sch in schedules if sch["next_handoff"]),
                          key=lambda sch: sch["next_handoff"]["at"])
        return {"schedules": schedules, "teams": teams, "names": names, "on_now": on_now,
                "handoffs": handoffs}

    data = await run_in_threadpool(run)
    return page(request, "oncall.html", who, ctx, **data)


@dataclass
class Day:
    day: date
    other: bool
    today: bool
    #: Shifts and gaps by start: {user (None for a gap), name, text, hue, title}.
    items: list[dict[str, Any]] = field(default_factory=list)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _clock(when: datetime, zone: ZoneInfo, day_end: datetime) -> str:
    return "24:00" if when >= day_end else when.astimezone(zone).strftime("%H:%M")


def hue(user: str) -> int:
    """A stable colour per person."""
    return zlib.crc32(user.encode()) % 360


def calendar_days(view: str, anchor: date) -> tuple[date, date]:
    """The first day shown and the day after the last: a Monday-to-Sunday week, or the
    whole weeks that cover the month."""
    if view == "month":
        first = anchor.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
        return first - timedelta(days=first.weekday()), after + timedelta(
            days=(7 - after.weekday()) % 7)
    start = anchor - timedelta(days=anchor.weekday())
    return start, start + timedelta(days=7)


def build_calendar(schedule: Schedule, view: str, anchor: date, today: date,
                   shifts: list[Shift], gaps: list[Any], names: dict[str, str]
                   ) -> list[list[Day]]:
    zone = schedule.zone
    first, after = calendar_days(view, anchor)
    weeks: list[list[Day]] = []
    day = first
    while day < after:
        d0, d1 = _midnight(day, zone), _midnight(day + _DAY, zone)
        cell = Day(day, view == "month" and day.month != anchor.month, day == today)
        for sh in shifts:
            if sh.start < d1 and sh.end > d0:
                a, b = max(sh.start, d0), min(sh.end, d1)
                cell.items.append({
                    "user": sh.user, "name": names.get(sh.user, sh.user), "at": a,
                    "text": f"{_clock(a, zone, d1)}{DASH}{_clock(b, zone, d1)}",
                    "hue": hue(sh.user),
                    "title": f"{sh.start.astimezone(zone):%a %d %b %H:%M} to "
                             f"{sh.end.astimezone(zone):%a %d %b %H:%M}"})
        for g in gaps:
            if g.start < d1 and g.end > d0:
                a, b = max(g.start, d0), min(g.end, d1)
                cell.items.append({"user": None, "at": a, "text": f"{_clock(a, zone, d1)}"
                                   f"{DASH}{_clock(b, zone, d1)}"})
        cell.items.sort(key=lambda item: item["at"])
        if not weeks or len(weeks[-1]) == 7:
            weeks.append([])
        weeks[-1].append(cell)
        day += _DAY
    return weeks


def describe_layer(layer: Layer) -> dict[str, Any]:
    rot = layer.rotation
    unit = {Unit.HOUR: "hour", Unit.DAY: "day", Unit.WEEK: "week", Unit.MONTH: "month"}[
        rot.unit]
    every = f"every {unit}" if rot.length == 1 else f"every {rot.length} {unit}s"
    return {"name": layer.name, "participants": list(rot.participants), "every": every,
            "start": rot.start.strftime("%Y-%m-%d %H:%M"),
            "end": rot.end.strftime("%Y-%m-%d %H:%M") if rot.end else None,
            "restrictions": [f"{WEEKDAYS[w.weekday]} {w.start:%H:%M}{DASH}{w.end:%H:%M}"
                             for w in layer.restrictions]}


def _anchor(value: str, today: date) -> date:
    try:
        return date.fromisoformat(value.strip()) if value.strip() else today
    except ValueError:
        return today


@router.get("/ui/oncall/{schedule_id}", response_class=HTMLResponse)
async def schedule_page(request: Request, schedule_id: IdPath, view: str = "week",
                        start: str = "", who: Viewer = Depends(signed_in()),
                        ctx: Context = Depends(get_context)) -> Response:
    view = view if view in VIEWS else "week"

    def run() -> dict[str, Any] | None:
        now = ctx.clock.now()
        with ctx.db.read() as s:
            try:
                row = svc.get_schedule(s, tenant_id=who.tenant_id, schedule_id=schedule_id)
            except NotFound:
                return None
            info = svc.read(row, now=now, base_url=ctx.settings.base_url)
            names = user_names(s, who.tenant_id)
            s.expunge_all()
        schedule = svc.load(row)
        zone = schedule.zone
        today = now.astimezone(zone).date()
        anchor = _anchor(start, today)
        first, after = calendar_days(view, anchor)
        try:
            a, b = _midnight(first, zone), _midnight(after, zone)
            final = q.final_shifts(schedule, a, b)
            report = q.quality_report(schedule, a, b)
        except InvalidInput:  # a date out of range: show this week
            anchor = today
            first, after = calendar_days(view, anchor)
            a, b = _midnight(first, zone), _midnight(after, zone)
            final = q.final_shifts(schedule, a, b)
            report = q.quality_report(schedule, a, b)
        if view == "week":
            prev_anchor, next_anchor = first - timedelta(days=7), after
        else:
            month = anchor.replace(day=1)
            prev_anchor = (month - _DAY).replace(day=1)
            next_anchor = (month + timedelta(days=31)).replace(day=1)
        return {
            "row": row, "info": info, "schedule": schedule, "zone": str(zone),
            "names": names, "view": view, "anchor": anchor, "first": first,
            "last": after - _DAY, "today": today,
            "weeks": build_calendar(schedule, view, anchor, today, final, list(report.gaps),
                                    names),
            "final": final, "report": report,
            "layers": [describe_layer(layer) for layer in schedule.layers],
            "overrides": list(enumerate(schedule.overrides)),
            "swaps": list(schedule.swaps),
            "prev_url": f"/ui/oncall/{schedule_id}?view={view}&start={prev_anchor}",
            "next_url": f"/ui/oncall/{schedule_id}?view={view}&start={next_anchor}",
            "today_url": f"/ui/oncall/{schedule_id}?view={view}",
            "weekdays": WEEKDAYS,
        }

    data = await run_in_threadpool(run)
    if data is None:
        return not_found(request, who, ctx, f"There is no schedule {schedule_id}.",
                         ("On-call", "/ui/oncall"))
    return page(request, "schedule.html", who, ctx, **data)
