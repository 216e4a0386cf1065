"""Configuration pages: escalation policies, services, teams and users (writes for admins,
as the API requires), and the YAML helper that lets a textarea hold YAML or JSON."""

from __future__ import annotations

import secrets
from typing import Any, get_args

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vigil.context import Context, get_context
from vigil.errors import Forbidden, InvalidInput
from vigil.http.ids import IdPath
from vigil.oncall.escalation import service as escalation_service
from vigil.oncall.escalation.parse import parse_policy
from vigil.oncall.escalation.policy import Step, Target
from vigil.oncall.models import ContactMethod, NotificationRule, ScheduleRow, Service, Team
from vigil.oncall.people import service as people_service
from vigil.oncall.people.schemas import ContactType
from vigil.oncall.schedules.service import plain
from vigil.web.charts import duration
from vigil.web.pages.common import DASH, not_found, safe_href, slug, user_names
from vigil.web.pages.integrations import router as integrations_router
from vigil.web.render import Viewer, page, signed_in

router = APIRouter(include_in_schema=False)
router.include_router(integrations_router)
ROLES = ("viewer", "responder", "admin")
CONTACT_TYPES = get_args(ContactType)
TIME_ZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York",
              "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney")
POLICY_EXAMPLE = """name: critical-firing
conditions:
  severities: [critical]
  statuses: [firing]
steps:
  - delay: 0
    targets:
      - schedule: primary
  - delay: 5m
    targets:
      - team: on-call
"""


class YamlText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=200_000)


@router.post("/ui/parse-yaml")
async def parse_yaml(body: YamlText, request: Request,
                     who: Viewer = Depends(signed_in())) -> Response:
    """YAML (or JSON) text as JSON data, for forms whose textarea holds a definition; the
    JSON is then sent to the API, which validates it."""
    if not secrets.compare_digest(request.headers.get("x-csrf-token", ""), who.csrf):
        raise Forbidden("missing or wrong CSRF token", field="X-CSRF-Token")
    try:
        value = yaml.safe_load(body.text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"neither JSON nor YAML: {exc}", field="text") from None
    return JSONResponse({"value": plain(value)})


def _targets(target: Target, schedules: dict[str, int]) -> dict[str, Any]:
    kind = target.kind.value
    href = None
    if kind == "schedule" and target.id in schedules:
        href = f"/ui/oncall/{schedules[target.id]}"
    elif kind == "team":
        href = "/ui/teams#team-" + slug(target.id)
    elif kind == "user":
        href = "/ui/users#user-" + slug(target.id)
    text = ", ".join(target.users) if target.users else target.id
    if target.users and target.id:
        text = f"{target.id}: {text}"
    return {"kind": kind.replace("_", " "), "text": text, "href": href}


def _steps(steps: tuple[Step, ...], schedules: dict[str, int]) -> list[dict[str, Any]]:
    return [{"delay": duration(step.delay.total_seconds()), "urgency": step.urgency.value,
             "multi_ack": step.multi_ack,
             "window": (f"{step.active_between.start:%H:%M}{DASH}{step.active_between.end:%H:%M} "
                        f"{step.active_between.tz}") if step.active_between else None,
             "targets": [_targets(t, schedules) for t in step.targets]} for step in steps]


def _policy_view(definition: dict[str, Any], schedules: dict[str, int]) -> dict[str, Any]:
    try:
        policy = parse_policy(definition)
    except InvalidInput as exc:
        return {"error": exc.message, "steps": []}
    cond = policy.conditions
    return {"error": None, "steps": _steps(policy.steps, schedules), "repeat": policy.repeat,
            "ack_timeout": duration(policy.ack_timeout.total_seconds())
            if policy.ack_timeout else None,
            "severities": sorted(s.value for s in cond.severities) if cond else [],
            "statuses": sorted(cond.statuses) if cond else []}


def _policies(ctx: Context, who: Viewer, policy_id: int | None) -> dict[str, Any] | None:
    with ctx.db.read() as s:
        rows = escalation_service.list_rows(s, tenant_id=who.tenant_id)
        schedules = {n: i for i, n in s.execute(select(ScheduleRow.id, ScheduleRow.name).where(
            ScheduleRow.tenant_id == who.tenant_id))}
        used: dict[str, list[tuple[str, str]]] = {}
        for kind, model in (("team", Team), ("service", Service)):
            for name, policy in s.execute(select(model.name, model.escalation_policy).where(
                    model.tenant_id == who.tenant_id, model.escalation_policy.is_not(None))):
                used.setdefault(str(policy), []).append((kind, name))
        s.expunge_all()
    selected = None
    if policy_id is not None:
        selected = next((r for r in rows if r.id == policy_id), None)
        if selected is None:
            return None
    return {"policies": [(r, _policy_view(r.definition, schedules)) for r in rows],
            "selected": selected, "used": used,
            "yamls": {r.id: _yaml(r.definition) for r in rows},
            "view": _policy_view(selected.definition, schedules) if selected else None,
            "yaml": _yaml(selected.definition) if selected else POLICY_EXAMPLE}


def _yaml(definition: dict[str, Any]) -> str:
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True)


@router.get("/ui/escalation-policies", response_class=HTMLResponse)
async def policies(request: Request, who: Viewer = Depends(signed_in()),
                   ctx: Context = Depends(get_context)) -> Response:
    data = await run_in_threadpool(_policies, ctx, who, None)
    return page(request, "policies.html", who, ctx, **(data or {}))


@router.get("/ui/escalation-policies/{policy_id}", response_class=HTMLResponse)
async def policy(request: Request, policy_id: IdPath, who: Viewer = Depends(signed_in()),
                 ctx: Context = Depends(get_context)) -> Response:
    data = await run_in_threadpool(_policies, ctx, who, policy_id)
    if data is None:
        return not_found(request, who, ctx, f"There is no escalation policy {policy_id}.",
                         ("Escalation policies", "/ui/escalation-policies"))
    return page(request, "policies.html", who, ctx, **data)


def _people(ctx: Context, who: Viewer) -> dict[str, Any]:
    with ctx.db.read() as s:
        teams = people_service.list_teams(s, tenant_id=who.tenant_id)
        services = people_service.list_services(s, tenant_id=who.tenant_id)
        policy_names = [r.name for r in escalation_service.list_rows(s, tenant_id=who.tenant_id)]
        names = user_names(s, who.tenant_id)
        s.expunge_all()
    return {"teams": teams, "services": services, "policy_names": policy_names,
            "names": names}


@router.get("/ui/services", response_class=HTMLResponse)
async def services(request: Request, who: Viewer = Depends(signed_in()),
                   ctx: Context = Depends(get_context)) -> Response:
    data = await run_in_threadpool(_people, ctx, who)
    links = {svc.id: [(str(link.get("title", "")), safe_href(link.get("url")))
                      for link in svc.runbook_links or [] if isinstance(link, dict)]
             for svc in data["services"]}
    return page(request, "services.html", who, ctx, links=links, **data)


@router.get("/ui/teams", response_class=HTMLResponse)
async def teams(request: Request, who: Viewer = Depends(signed_in()),
                ctx: Context = Depends(get_context)) -> Response:
    data = await run_in_threadpool(_people, ctx, who)
    return page(request, "teams.html", who, ctx, **data)


def _contacts(s: Session, tenant_id: int) -> dict[int, list[dict[str, Any]]]:
    """user id -> their contact methods, each with the notification rules that use it."""
    rules: dict[int, list[dict[str, Any]]] = {}
    for r in s.scalars(select(NotificationRule).where(NotificationRule.tenant_id == tenant_id)
                       .order_by(NotificationRule.delay_minutes, NotificationRule.id)):
        rules.setdefault(r.contact_method_id, []).append(
            {"id": r.id, "urgency": r.urgency, "delay_minutes": r.delay_minutes})
    out: dict[int, list[dict[str, Any]]] = {}
    for m in s.scalars(select(ContactMethod).where(ContactMethod.tenant_id == tenant_id)
                       .order_by(ContactMethod.id)):
        out.setdefault(m.user_id, []).append(
            {"id": m.id, "type": m.type, "address": m.address, "label": m.label,
             "enabled": m.enabled, "rules": rules.get(m.id, [])})
    return out


@router.get("/ui/users", response_class=HTMLResponse)
async def users(request: Request, who: Viewer = Depends(signed_in()),
                ctx: Context = Depends(get_context)) -> Response:
    def run() -> dict[str, Any]:
        with ctx.db.read() as s:
            people = people_service.list_users(s, tenant_id=who.tenant_id)
            member_of: dict[str, list[str]] = {}
            for team in people_service.list_teams(s, tenant_id=who.tenant_id):
                for m in team.members:
                    member_of.setdefault(m, []).append(team.name)
            contacts = _contacts(s, who.tenant_id)
        return {"users": people, "member_of": member_of, "contacts": contacts}

    data = await run_in_threadpool(run)
    return page(request, "users.html", who, ctx, roles=ROLES, time_zones=TIME_ZONES,
                contact_types=CONTACT_TYPES, **data)

