"""``/api/v1/users`` (with their contact methods and notification rules), ``/api/v1/teams``
and ``/api/v1/services``: viewers read, admins write."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from vigil.auth.deps import admin, viewer
from vigil.auth.service import Principal
from vigil.context import Context, get_context
from vigil.http.bodies import JsonObjectRoute
from vigil.http.ids import IdPath
from vigil.oncall.people import service as svc
from vigil.oncall.people.schemas import (
    ContactMethodCreate,
    ContactMethodRead,
    NotificationRuleCreate,
    NotificationRuleRead,
    ServiceCreate,
    ServiceRead,
    ServiceUpdate,
    TeamCreate,
    TeamRead,
    TeamUpdate,
    UserCreate,
    UserDetail,
    UserRead,
    UserUpdate,
)

router = APIRouter(tags=["people"], route_class=JsonObjectRoute)
_USERS = "/api/v1/users"
_USER = _USERS + "/{user_id}"
_TEAMS = "/api/v1/teams"
_SERVICES = "/api/v1/services"


def _no_content() -> Response:
    return Response(status_code=204)


@router.get(_USERS, response_model=list[UserRead])
async def list_users(who: Principal = Depends(viewer),
                     ctx: Context = Depends(get_context)) -> list[UserRead]:
    def run() -> list[UserRead]:
        with ctx.db.read() as s:
            return svc.list_users(s, tenant_id=who.tenant_id)
    return await run_in_threadpool(run)


@router.post(_USERS, response_model=UserDetail, status_code=201)
async def create_user(body: UserCreate, who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> UserDetail:
    def run() -> UserDetail:
        with ctx.db.write() as s:
            user = svc.create_user(s, tenant_id=who.tenant_id, body=body, now=ctx.clock.now())
            return svc.user_detail(s, user)
    return await run_in_threadpool(run)


@router.get(_USER, response_model=UserDetail)
async def get_user(user_id: IdPath, who: Principal = Depends(viewer),
                   ctx: Context = Depends(get_context)) -> UserDetail:
    def run() -> UserDetail:
        with ctx.db.read() as s:
            return svc.user_detail(s, svc.get_user(s, tenant_id=who.tenant_id,
                                                   user_id=user_id))
    return await run_in_threadpool(run)


@router.patch(_USER, response_model=UserDetail)
async def update_user(user_id: IdPath, body: UserUpdate, who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> UserDetail:
    """Renaming a user renames them in teams, schedules and escalation policies too; a new
    role ends their web sessions."""
    def run() -> UserDetail:
        with ctx.db.write() as s:
            role = svc.get_user(s, tenant_id=who.tenant_id, user_id=user_id).role
            user = svc.update_user(s, tenant_id=who.tenant_id, user_id=user_id, body=body,
                                   now=ctx.clock.now())
            if user.role != role:
                from vigil.auth.sessions import end_all
                end_all(s, user=user, actor=who.actor, now=ctx.clock.now(),
                        reason="role changed")
            return svc.user_detail(s, user)
    return await run_in_threadpool(run)


@router.delete(_USER, status_code=204)
async def delete_user(user_id: IdPath, replace_with: str | None = None,
                      who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> Response:
    """Refused (409, listing the places) while teams, schedules or escalation policies name
    the user, unless ``replace_with`` names the user to put there instead."""
    def run() -> None:
        with ctx.db.write() as s:
            svc.delete_user(s, tenant_id=who.tenant_id, user_id=user_id,
                            replace_with=replace_with, now=ctx.clock.now())
    await run_in_threadpool(run)
    return _no_content()


@router.get(_USER + "/warnings")
async def user_warnings(user_id: IdPath, who: Principal = Depends(viewer),
                        ctx: Context = Depends(get_context)) -> list[str]:
    def run() -> list[str]:
        with ctx.db.read() as s:
            user = svc.get_user(s, tenant_id=who.tenant_id, user_id=user_id)
            return svc.user_warnings(svc.methods_of(s, user.id), svc.rules_of(s, user.id))
    return await run_in_threadpool(run)


@router.get(_USER + "/contact-methods", response_model=list[ContactMethodRead])
async def list_contact_methods(user_id: IdPath, who: Principal = Depends(viewer),
                               ctx: Context = Depends(get_context)) -> list[ContactMethodRead]:
    def run() -> list[ContactMethodRead]:
        with ctx.db.read() as s:
            user = svc.get_user(s, tenant_id=who.tenant_id, user_id=user_id)
            return [ContactMethodRead.model_validate(m) for m in svc.methods_of(s, user.id)]
    return await run_in_threadpool(run)


@router.post(_USER + "/contact-methods", response_model=ContactMethodRead, status_code=201)
async def create_contact_method(user_id: IdPath, body: ContactMethodCreate,
                                who: Principal = Depends(admin),
                                ctx: Context = Depends(get_context)) -> ContactMethodRead:
    def run() -> ContactMethodRead:
        with ctx.db.write() as s:
            return ContactMethodRead.model_validate(svc.create_contact_method(
                s, tenant_id=who.tenant_id, user_id=user_id, body=body, now=ctx.clock.now()))
    return await run_in_threadpool(run)


@router.delete(_USER + "/contact-methods/{cm_id}", status_code=204)
async def delete_contact_method(user_id: IdPath, cm_id: IdPath, who: Principal = Depends(admin),
                                ctx: Context = Depends(get_context)) -> Response:
    """The notification rules that use it are deleted with it."""
    def run() -> None:
        with ctx.db.write() as s:
            svc.delete_contact_method(s, tenant_id=who.tenant_id, user_id=user_id,
                                      cm_id=cm_id)
    await run_in_threadpool(run)
    return _no_content()


@router.get(_USER + "/notification-rules", response_model=list[NotificationRuleRead])
async def list_notification_rules(user_id: IdPath, who: Principal = Depends(viewer),
                                  ctx: Context = Depends(get_context)
                                  ) -> list[NotificationRuleRead]:
    def run() -> list[NotificationRuleRead]:
        with ctx.db.read() as s:
            user = svc.get_user(s, tenant_id=who.tenant_id, user_id=user_id)
            return [NotificationRuleRead.model_validate(r) for r in svc.rules_of(s, user.id)]
    return await run_in_threadpool(run)


@router.post(_USER + "/notification-rules", response_model=NotificationRuleRead,
             status_code=201)
async def create_notification_rule(user_id: IdPath, body: NotificationRuleCreate,
                                   who: Principal = Depends(admin),
                                   ctx: Context = Depends(get_context)) -> NotificationRuleRead:
    def run() -> NotificationRuleRead:
        with ctx.db.write() as s:
            return NotificationRuleRead.model_validate(svc.create_notification_rule(
                s, tenant_id=who.tenant_id, user_id=user_id, body=body, now=ctx.clock.now()))
    return await run_in_threadpool(run)


@router.delete(_USER + "/notification-rules/{rule_id}", status_code=204)
async def delete_notification_rule(user_id: IdPath, rule_id: IdPath,
                                   who: Principal = Depends(admin),
                                   ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            svc.delete_notification_rule(s, tenant_id=who.tenant_id, user_id=user_id,
                                         rule_id=rule_id)
    await run_in_threadpool(run)
    return _no_content()


@router.get(_TEAMS, response_model=list[TeamRead])
async def list_teams(who: Principal = Depends(viewer),
                     ctx: Context = Depends(get_context)) -> list[TeamRead]:
    def run() -> list[TeamRead]:
        with ctx.db.read() as s:
            return [TeamRead.model_validate(t) for t in svc.list_teams(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post(_TEAMS, response_model=TeamRead, status_code=201)
async def create_team(body: TeamCreate, who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> TeamRead:
    def run() -> TeamRead:
        with ctx.db.write() as s:
            return TeamRead.model_validate(svc.create_team(s, tenant_id=who.tenant_id,
                                                           body=body, now=ctx.clock.now()))
    return await run_in_threadpool(run)


@router.get(_TEAMS + "/{team_id}", response_model=TeamRead)
async def get_team(team_id: IdPath, who: Principal = Depends(viewer),
                   ctx: Context = Depends(get_context)) -> TeamRead:
    def run() -> TeamRead:
        with ctx.db.read() as s:
            return TeamRead.model_validate(svc.get_team(s, tenant_id=who.tenant_id,
                                                        team_id=team_id))
    return await run_in_threadpool(run)


@router.patch(_TEAMS + "/{team_id}", response_model=TeamRead)
async def update_team(team_id: IdPath, body: TeamUpdate, who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> TeamRead:
    def run() -> TeamRead:
        with ctx.db.write() as s:
            return TeamRead.model_validate(svc.update_team(
                s, tenant_id=who.tenant_id, team_id=team_id, body=body, now=ctx.clock.now()))
    return await run_in_threadpool(run)


@router.delete(_TEAMS + "/{team_id}", status_code=204)
async def delete_team(team_id: IdPath, who: Principal = Depends(admin),
                      ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            svc.delete_team(s, tenant_id=who.tenant_id, team_id=team_id)
    await run_in_threadpool(run)
    return _no_content()


@router.get(_SERVICES, response_model=list[ServiceRead])
async def list_services(who: Principal = Depends(viewer),
                        ctx: Context = Depends(get_context)) -> list[ServiceRead]:
    def run() -> list[ServiceRead]:
        with ctx.db.read() as s:
            return [ServiceRead.model_validate(x)
                    for x in svc.list_services(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post(_SERVICES, response_model=ServiceRead, status_code=201)
async def create_service(body: ServiceCreate, who: Principal = Depends(admin),
                         ctx: Context = Depends(get_context)) -> ServiceRead:
    def run() -> ServiceRead:
        with ctx.db.write() as s:
            return ServiceRead.model_validate(svc.create_service(
                s, tenant_id=who.tenant_id, body=body, now=ctx.clock.now()))
    return await run_in_threadpool(run)


@router.get(_SERVICES + "/{service_id}", response_model=ServiceRead)
async def get_service(service_id: IdPath, who: Principal = Depends(viewer),
                      ctx: Context = Depends(get_context)) -> ServiceRead:
    def run() -> ServiceRead:
        with ctx.db.read() as s:
            return ServiceRead.model_validate(svc.get_service(s, tenant_id=who.tenant_id,
                                                              service_id=service_id))
    return await run_in_threadpool(run)


@router.patch(_SERVICES + "/{service_id}", response_model=ServiceRead)
async def update_service(service_id: IdPath, body: ServiceUpdate,
                         who: Principal = Depends(admin),
                         ctx: Context = Depends(get_context)) -> ServiceRead:
    def run() -> ServiceRead:
        with ctx.db.write() as s:
            return ServiceRead.model_validate(svc.update_service(
                s, tenant_id=who.tenant_id, service_id=service_id, body=body,
                now=ctx.clock.now()))
    return await run_in_threadpool(run)


@router.delete(_SERVICES + "/{service_id}", status_code=204)
async def delete_service(service_id: IdPath, who: Principal = Depends(admin),
                         ctx: Context = Depends(get_context)) -> Response:
    def run() -> None:
        with ctx.db.write() as s:
            svc.delete_service(s, tenant_id=who.tenant_id, service_id=service_id)
    await run_in_threadpool(run)
    return _no_content()


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=10, max_length=1000)


@router.put("/api/v1/users/{user_id}/password", status_code=204)
async def set_password(user_id: IdPath, body: PasswordIn, who: Principal = Depends(viewer),
                       ctx: Context = Depends(get_context)) -> Response:
    """Set a person's web sign-in password: an admin for anyone, a person for themselves.
    Ends the person's web sessions, except the one a person changing their own password
    made this request with."""
    from vigil.auth.models import User
    from vigil.auth.sessions import end_all
    from vigil.auth.sign_in import hash_password
    from vigil.errors import Forbidden, NotFound

    if not (who.can("admin") or who.user_id == user_id):
        raise Forbidden("only an admin may set another person's password")

    def run() -> None:
        with ctx.db.write() as s:
            user = s.get(User, user_id)
            if user is None or user.tenant_id != who.tenant_id:
                raise NotFound(f"no user {user_id}", field="id")
            user.password_hash = hash_password(body.password)
            end_all(s, user=user, actor=who.actor, now=ctx.clock.now(),
                    reason="password changed",
                    keep=who.session_id if who.user_id == user_id else None)
    await run_in_threadpool(run)
    return Response(status_code=204)
