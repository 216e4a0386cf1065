"""People, how to reach them, teams and services. Services never commit (the caller owns
the unit of work). Team members and schedule/escalation-policy definitions name people by
username: deleting a referenced user is refused unless a replacement is given, which is then
substituted everywhere in the same transaction, as a rename is."""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.auth.models import User
from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.oncall.models import (
    ContactMethod,
    EscalationPolicyRow,
    NotificationRule,
    ScheduleRow,
    Service,
    Team,
)
from vigil.oncall.people import schemas as ps

M = TypeVar("M", User, Team, Service)
NO_CONTACT = "no contact method"
NO_HIGH = "no high-urgency notification rule"
NO_LOW = "no low-urgency notification rule"
#: Keys under which schedule and escalation-policy definitions name a person.
PERSON_KEYS = frozenset({"participants", "users", "user", "id", "requester", "counterpart",
                         "replaces", "round_robin"})


def _flush(session: Session, message: str, field: str) -> None:
    try:
        session.flush()
    except IntegrityError:  # a concurrent writer took the name
        raise Conflict(message, field=field) from None


def _get(session: Session, model: type[M], tenant_id: int, row_id: int, what: str) -> M:
    row = session.get(model, row_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"no {what} {row_id}", field="id")
    return row


def _changes(body: BaseModel, nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None and key not in nullable:
            raise InvalidInput(f"{key} cannot be null", field=key)
    return changes


def user_by_name(session: Session, tenant_id: int, username: str) -> User | None:
    return session.scalars(select(User).where(User.tenant_id == tenant_id,
                                              User.username == username)).first()


def get_user(session: Session, *, tenant_id: int, user_id: int) -> User:
    return _get(session, User, tenant_id, user_id, "user")


def methods_of(session: Session, user_id: int) -> list[ContactMethod]:
    return list(session.scalars(select(ContactMethod).where(ContactMethod.user_id == user_id)
                                .order_by(ContactMethod.id)))


def rules_of(session: Session, user_id: int) -> list[NotificationRule]:
    return list(session.scalars(select(NotificationRule)
                                .where(NotificationRule.user_id == user_id)
                                .order_by(NotificationRule.id)))


def user_warnings(methods: list[ContactMethod], rules: list[NotificationRule]) -> list[str]:
    """Why a page might not reach this person."""
    enabled = {m.id for m in methods if m.enabled}
    out = [] if enabled else [NO_CONTACT]
    for urgency, text in (("high", NO_HIGH), ("low", NO_LOW)):
        if not any(r.urgency == urgency and r.contact_method_id in enabled for r in rules):
            out.append(text)
    return out


def _read(user: User, methods: list[ContactMethod], rules: list[NotificationRule]) -> ps.UserRead:
    out = ps.UserRead.model_validate(user)
    out.warnings = user_warnings(methods, rules)
    return out


def list_users(session: Session, *, tenant_id: int) -> list[ps.UserRead]:
    methods: dict[int, list[ContactMethod]] = defaultdict(list)
    rules: dict[int, list[NotificationRule]] = defaultdict(list)
    for m in session.scalars(select(ContactMethod).where(ContactMethod.tenant_id == tenant_id)):
        methods[m.user_id].append(m)
    for r in session.scalars(select(NotificationRule)
                             .where(NotificationRule.tenant_id == tenant_id)):
        rules[r.user_id].append(r)
    users = session.scalars(select(User).where(User.tenant_id == tenant_id)
                            .order_by(User.username))
    return [_read(u, methods[u.id], rules[u.id]) for u in users]


def user_detail(session: Session, user: User) -> ps.UserDetail:
    methods, rules = methods_of(session, user.id), rules_of(session, user.id)
    return ps.UserDetail(
        **_read(user, methods, rules).model_dump(),
        ical_url=f"/api/v1/users/{user.id}/shifts.ics?token={user.ical_token}",
        contact_methods=[ps.ContactMethodRead.model_validate(m) for m in methods],
        notification_rules=[ps.NotificationRuleRead.model_validate(r) for r in rules])


def create_user(session: Session, *, tenant_id: int, body: ps.UserCreate, now: datetime) -> User:
    message = f"a user named {body.username!r} exists"
    if user_by_name(session, tenant_id, body.username) is not None:
        raise Conflict(message, field="username")
    user = User(tenant_id=tenant_id, **body.model_dump(include=set(ps.UserCreate.model_fields)),
                password_hash=None, ical_token=secrets.token_urlsafe(24), created_at=now,
                updated_at=now)
    session.add(user)
    _flush(session, message, "username")
    return user


def update_user(session: Session, *, tenant_id: int, user_id: int, body: ps.UserUpdate,
                now: datetime) -> User:
    user = get_user(session, tenant_id=tenant_id, user_id=user_id)
    changes = _changes(body)
    new = changes.get("username", user.username)
    if new != user.username:
        if user_by_name(session, tenant_id, new) is not None:
            raise Conflict(f"a user named {new!r} exists", field="username")
        references(session, tenant_id=tenant_id, username=user.username, replacement=new,
                   now=now)
    for key, value in changes.items():
        setattr(user, key, value)
    user.updated_at = now
    _flush(session, f"a user named {new!r} exists", "username")
    return user


def _scan(node: Any, old: str, new: str | None, path: str, hits: list[str]) -> Any:
    """A copy of ``node`` with each string equal to ``old`` under a person key replaced by
    ``new`` (kept when None); the path of each is appended to ``hits``."""
    if isinstance(node, list):
        return [_scan(x, old, new, f"{path}[{i}]", hits) for i, x in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        where = f"{path}.{key}" if path else str(key)
        person = key in PERSON_KEYS and not (key == "id" and node.get("type", "user") != "user")
        if person and value == old:
            hits.append(where)
            out[key] = old if new is None else new
        elif person and isinstance(value, list):
            out[key] = []
            for i, item in enumerate(value):
                if item == old:
                    hits.append(f"{where}[{i}]")
                    out[key].append(old if new is None else new)
                else:
                    out[key].append(_scan(item, old, new, f"{where}[{i}]", hits))
        else:
            out[key] = _scan(value, old, new, where, hits)
    return out


def references(session: Session, *, tenant_id: int, username: str,
               replacement: str | None = None, now: datetime | None = None
               ) -> list[dict[str, Any]]:
    """Where ``username`` is named (team members, schedules, escalation policies), as
    ``{"kind", "name", "paths"}``; with ``replacement``, substitute it there too."""
    found: list[dict[str, Any]] = []
    for team in session.scalars(select(Team).where(Team.tenant_id == tenant_id)
                                .order_by(Team.name)):
        if username in team.members:
            found.append({"kind": "team", "name": team.name, "paths": ["members"]})
            if replacement is not None:
                swapped = [replacement if m == username else m for m in team.members]
                team.members = list(dict.fromkeys(swapped))
                team.updated_at = now or team.updated_at
    rows: list[tuple[str, ScheduleRow | EscalationPolicyRow]] = [
        ("schedule", r) for r in session.scalars(
            select(ScheduleRow).where(ScheduleRow.tenant_id == tenant_id)
            .order_by(ScheduleRow.name))]
    rows += [("escalation policy", r) for r in session.scalars(
        select(EscalationPolicyRow).where(EscalationPolicyRow.tenant_id == tenant_id)
        .order_by(EscalationPolicyRow.name))]
    for kind, row in rows:
        hits: list[str] = []
        definition = _scan(row.definition, username, replacement, "", hits)
        if hits:
            found.append({"kind": kind, "name": row.name, "paths": hits})
            if replacement is not None:
                row.definition = definition
                row.updated_at = now or row.updated_at
    return found


def _place(ref: dict[str, Any]) -> str:
    return f'{ref["kind"]} "{ref["name"]}"' + (" members" if ref["kind"] == "team" else "")


def delete_user(session: Session, *, tenant_id: int, user_id: int, now: datetime,
                replace_with: str | None = None) -> None:
    """Refused (409, listing the places) while referenced, unless ``replace_with``."""
    user = get_user(session, tenant_id=tenant_id, user_id=user_id)
    if replace_with is not None:
        if replace_with == user.username:
            raise InvalidInput("replace_with must name another user", field="replace_with")
        if user_by_name(session, tenant_id, replace_with) is None:
            raise InvalidInput(f"no user {replace_with!r}", field="replace_with")
    found = references(session, tenant_id=tenant_id, username=user.username,
                       replacement=replace_with, now=now)
    if found and replace_with is None:
        places = "; ".join(_place(f) for f in found)
        raise Conflict(f"user {user.username!r} is still referenced: {places}; delete with "
                       "?replace_with=<username> to hand these over", details=found)
    session.execute(delete(NotificationRule).where(NotificationRule.user_id == user.id))
    session.execute(delete(ContactMethod).where(ContactMethod.user_id == user.id))
    session.delete(user)


def create_contact_method(session: Session, *, tenant_id: int, user_id: int,
                          body: ps.ContactMethodCreate, now: datetime) -> ContactMethod:
    user = get_user(session, tenant_id=tenant_id, user_id=user_id)
    for m in methods_of(session, user.id):
        if (m.type, m.address) == (body.type, body.address):
            raise Conflict(f"{user.username} already has {body.type} {body.address}",
                           field="address")
        if body.label and m.label == body.label:
            raise Conflict(f"{user.username} already has a contact method labelled "
                           f"{body.label!r}", field="label")
    method = ContactMethod(tenant_id=tenant_id, user_id=user.id, **body.model_dump(),
                           enabled=True, created_at=now)
    session.add(method)
    session.flush()
    return method


def delete_contact_method(session: Session, *, tenant_id: int, user_id: int,
                          cm_id: int) -> None:
    """Its notification rules go with it."""
    get_user(session, tenant_id=tenant_id, user_id=user_id)
    method = session.get(ContactMethod, cm_id)
    if method is None or method.user_id != user_id:
        raise NotFound(f"user {user_id} has no contact method {cm_id}", field="cm_id")
    session.execute(delete(NotificationRule)
                    .where(NotificationRule.contact_method_id == method.id))
    session.delete(method)


def create_notification_rule(session: Session, *, tenant_id: int, user_id: int,
                             body: ps.NotificationRuleCreate, now: datetime) -> NotificationRule:
    user = get_user(session, tenant_id=tenant_id, user_id=user_id)
    method = session.get(ContactMethod, body.contact_method_id)
    if method is None or method.user_id != user.id:
        raise InvalidInput(f"contact method {body.contact_method_id} is not one of "
                           f"{user.username}'s", field="contact_method_id")
    for r in rules_of(session, user.id):
        if (r.contact_method_id, r.urgency, r.delay_minutes) == (
                method.id, body.urgency, body.delay_minutes):
            raise Conflict("the same notification rule exists", field="contact_method_id")
    rule = NotificationRule(tenant_id=tenant_id, user_id=user.id, **body.model_dump(),
                            created_at=now)
    session.add(rule)
    session.flush()
    return rule


def delete_notification_rule(session: Session, *, tenant_id: int, user_id: int,
                             rule_id: int) -> None:
    get_user(session, tenant_id=tenant_id, user_id=user_id)
    rule = session.get(NotificationRule, rule_id)
    if rule is None or rule.user_id != user_id:
        raise NotFound(f"user {user_id} has no notification rule {rule_id}", field="rule_id")
    session.delete(rule)


def reachable(session: Session, tenant_id: int, username: str,
              urgency: str) -> list[tuple[ContactMethod, int]]:
    """How to page ``username`` at ``urgency``: (enabled contact method, delay in minutes)
    from their notification rules, soonest first. Unknown users reach nobody."""
    user = user_by_name(session, tenant_id, username)
    if user is None:
        return []
    rows = session.execute(
        select(NotificationRule, ContactMethod)
        .join(ContactMethod, ContactMethod.id == NotificationRule.contact_method_id)
        .where(NotificationRule.user_id == user.id, NotificationRule.urgency == urgency,
               ContactMethod.enabled.is_(True))
        .order_by(NotificationRule.delay_minutes, NotificationRule.id))
    return [(method, rule.delay_minutes) for rule, method in rows]


def team_by_name(session: Session, tenant_id: int, name: str) -> Team | None:
    return session.scalars(select(Team).where(Team.tenant_id == tenant_id,
                                              Team.name == name)).first()


def team_members(session: Session, tenant_id: int, team_name: str) -> list[str]:
    """The usernames of a team ([] for an unknown team)."""
    team = team_by_name(session, tenant_id, team_name)
    return list(team.members) if team is not None else []


def check_members(session: Session, tenant_id: int, members: list[str]) -> None:
    known = set(session.scalars(select(User.username).where(
        User.tenant_id == tenant_id, User.username.in_(members)))) if members else set()
    for i, member in enumerate(members):
        if member in members[:i]:
            raise InvalidInput(f"{member!r} is listed twice", field=f"members[{i}]")
        if member not in known:
            raise InvalidInput(f"no user {member!r}", field=f"members[{i}]")


def get_team(session: Session, *, tenant_id: int, team_id: int) -> Team:
    return _get(session, Team, tenant_id, team_id, "team")


def list_teams(session: Session, *, tenant_id: int) -> list[Team]:
    return list(session.scalars(select(Team).where(Team.tenant_id == tenant_id)
                                .order_by(Team.name)))


def create_team(session: Session, *, tenant_id: int, body: ps.TeamCreate, now: datetime,
                verify: bool = True) -> Team:
    """``verify=False``: the caller checks the members (``vigil apply``, at commit)."""
    message = f"a team named {body.name!r} exists"
    if team_by_name(session, tenant_id, body.name) is not None:
        raise Conflict(message, field="name")
    if verify:
        check_members(session, tenant_id, body.members)
    team = Team(tenant_id=tenant_id, **body.model_dump(), created_at=now, updated_at=now)
    session.add(team)
    _flush(session, message, "name")
    return team


def update_team(session: Session, *, tenant_id: int, team_id: int, body: ps.TeamUpdate,
                now: datetime) -> Team:
    """Renaming a team renames it in its services."""
    team = get_team(session, tenant_id=tenant_id, team_id=team_id)
    changes = _changes(body, frozenset({"escalation_policy"}))
    if "members" in changes:
        check_members(session, tenant_id, changes["members"])
    new = changes.get("name", team.name)
    if new != team.name:
        if team_by_name(session, tenant_id, new) is not None:
            raise Conflict(f"a team named {new!r} exists", field="name")
        for service in session.scalars(select(Service).where(
                Service.tenant_id == tenant_id, Service.team == team.name)):
            service.team, service.updated_at = new, now
    for key, value in changes.items():
        setattr(team, key, value)
    team.updated_at = now
    _flush(session, f"a team named {new!r} exists", "name")
    return team


def delete_team(session: Session, *, tenant_id: int, team_id: int) -> None:
    team = get_team(session, tenant_id=tenant_id, team_id=team_id)
    owned = list(session.scalars(select(Service.name).where(
        Service.tenant_id == tenant_id, Service.team == team.name).order_by(Service.name)))
    if owned:
        places = "; ".join(f'service "{name}" team' for name in owned)
        raise Conflict(f"team {team.name!r} is still referenced: {places}",
                       details=[{"kind": "service", "name": n, "paths": ["team"]}
                                for n in owned])
    session.delete(team)


def service_by_name(session: Session, tenant_id: int, name: str) -> Service | None:
    return session.scalars(select(Service).where(Service.tenant_id == tenant_id,
                                                 Service.name == name)).first()


def check_team(session: Session, tenant_id: int, team: str | None) -> None:
    if team is not None and team_by_name(session, tenant_id, team) is None:
        raise InvalidInput(f"no team {team!r}", field="team")


def get_service(session: Session, *, tenant_id: int, service_id: int) -> Service:
    return _get(session, Service, tenant_id, service_id, "service")


def list_services(session: Session, *, tenant_id: int) -> list[Service]:
    return list(session.scalars(select(Service).where(Service.tenant_id == tenant_id)
                                .order_by(Service.name)))


def create_service(session: Session, *, tenant_id: int, body: ps.ServiceCreate, now: datetime,
                   verify: bool = True) -> Service:
    message = f"a service named {body.name!r} exists"
    if service_by_name(session, tenant_id, body.name) is not None:
        raise Conflict(message, field="name")
    if verify:
        check_team(session, tenant_id, body.team)
    service = Service(tenant_id=tenant_id, **body.model_dump(), created_at=now,
                      updated_at=now)
    session.add(service)
    _flush(session, message, "name")
    return service


def update_service(session: Session, *, tenant_id: int, service_id: int,
                   body: ps.ServiceUpdate, now: datetime) -> Service:
    service = get_service(session, tenant_id=tenant_id, service_id=service_id)
    changes = _changes(body, frozenset({"team", "escalation_policy"}))
    if changes.get("team") is not None:
        check_team(session, tenant_id, changes["team"])
    new = changes.get("name", service.name)
    if new != service.name and service_by_name(session, tenant_id, new) is not None:
        raise Conflict(f"a service named {new!r} exists", field="name")
    for key, value in changes.items():
        setattr(service, key, value)
    service.updated_at = now
    _flush(session, f"a service named {new!r} exists", "name")
    return service


def delete_service(session: Session, *, tenant_id: int, service_id: int) -> None:
    session.delete(get_service(session, tenant_id=tenant_id, service_id=service_id))
