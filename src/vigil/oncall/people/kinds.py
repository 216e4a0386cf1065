"""People, teams and services as YAML documents (``kind: User``, ``Team``, ``Service``)::

    kind: User
    username: alice
    name: Alice Example
    email: alice@example.com
    time_zone: Europe/Berlin
    contact_methods:
      - {type: sms, address: "+4915112345678", label: mobile}
      - {type: slack, address: U012ABCDEF}
    notification_rules:               # contact: a label, type or address from above
      - {contact: slack, urgency: high, delay_minutes: 0}
      - {contact: mobile, urgency: high, delay_minutes: 5}
    ---
    kind: Team
    name: sre
    members: [alice]
    escalation_policy: default
    ---
    kind: Service
    name: checkout
    team: sre
    runbook_links: [{title: Runbook, url: "https://wiki.example.com/checkout"}]

Applying is idempotent by name. A team's members and a service's team may be defined by
documents applied later in the same run (an export lists Service before Team before User):
they are checked when the transaction commits, so a bad reference still changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from vigil.auth.models import User
from vigil.document_kinds import Kind, register
from vigil.errors import InvalidInput
from vigil.oncall.models import ContactMethod, NotificationRule, Service, Team
from vigil.oncall.people import service as svc
from vigil.oncall.people.schemas import (
    RunbookLink,
    ServiceCreate,
    TeamCreate,
    UserCreate,
    UserDoc,
)

_PENDING = "vigil.people.pending_checks"
_USER_FIELDS = tuple(UserCreate.model_fields)
_USER_DEFAULTS = {"time_zone": "UTC", "role": "responder"}


def defer(session: Session, check: Callable[[], None]) -> None:
    """Run ``check`` just before the session commits (an error there rolls everything
    back)."""
    pending: list[Callable[[], None]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "before_commit", _run_pending, once=True)
    pending.append(check)


def _run_pending(session: Session) -> None:
    for check in session.info.pop(_PENDING, []):
        check()


def _resolve(contact: str, methods: list[tuple[str, str, str]]) -> int | None:
    """The index of the (type, address, label) that ``contact`` names: a label, else the
    only method of that type, else the only method with that address."""
    for part in (2, 0, 1):
        found = [i for i, m in enumerate(methods) if m[part] == contact]
        if len(found) == 1:
            return found[0]
    return None


def _wanted_methods(body: UserDoc) -> list[tuple[str, str, str]]:
    return [(m.type, m.address, m.label) for m in body.contact_methods]


def _check_user(body: Any) -> None:
    assert isinstance(body, UserDoc)
    methods = _wanted_methods(body)
    for i, (kind, address, label) in enumerate(methods):
        if (kind, address) in [(m[0], m[1]) for m in methods[:i]]:
            raise InvalidInput(f"{kind} {address} is listed twice",
                               field=f"contact_methods[{i}].address")
        if label and label in [m[2] for m in methods[:i]]:
            raise InvalidInput(f"label {label!r} is used twice",
                               field=f"contact_methods[{i}].label")
    seen = []
    for i, rule in enumerate(body.notification_rules):
        index = _resolve(rule.contact, methods)
        if index is None:
            raise InvalidInput(f"{rule.contact!r} names none (or more than one) of "
                               "contact_methods; give it a label",
                               field=f"notification_rules[{i}].contact")
        if (index, rule.urgency, rule.delay_minutes) in seen:
            raise InvalidInput("the same rule is listed twice", field=f"notification_rules[{i}]")
        seen.append((index, rule.urgency, rule.delay_minutes))


def _rules_key(rules: list[tuple[int, str, int]]) -> list[tuple[int, str, int]]:
    return sorted(rules, key=lambda r: (r[1], r[2], r[0]))


def _apply_user(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
    assert isinstance(body, UserDoc)
    _check_user(body)
    wanted = _wanted_methods(body)
    wanted_rules = _rules_key([(_resolve(r.contact, wanted) or 0, r.urgency, r.delay_minutes)
                               for r in body.notification_rules])
    fields = body.model_dump(include=set(_USER_FIELDS))
    user = svc.user_by_name(session, tenant_id, body.username)
    outcome = "updated"
    if user is None:
        user = svc.create_user(session, tenant_id=tenant_id,
                               body=UserCreate.model_validate(fields), now=now)
        outcome, methods, rules = "created", [], []
    else:
        methods, rules = svc.methods_of(session, user.id), svc.rules_of(session, user.id)
        have = [(m.type, m.address, m.label) for m in methods]
        index = {m.id: i for i, m in enumerate(methods)}
        have_rules = _rules_key([(index[r.contact_method_id], r.urgency, r.delay_minutes)
                                 for r in rules])
        same_fields = all(getattr(user, k) == v for k, v in fields.items())
        if same_fields and have == wanted and have_rules == wanted_rules:
            return "unchanged"
        for key, value in fields.items():
            setattr(user, key, value)
        user.updated_at = now
        if have == wanted and have_rules == wanted_rules:
            return outcome
    session.execute(delete(NotificationRule).where(NotificationRule.user_id == user.id))
    if [(m.type, m.address, m.label) for m in methods] != wanted:
        session.execute(delete(ContactMethod).where(ContactMethod.user_id == user.id))
        methods = [ContactMethod(tenant_id=tenant_id, user_id=user.id, type=t, address=a,
                                 label=label, enabled=True, created_at=now)
                   for t, a, label in wanted]
        session.add_all(methods)
        session.flush()
    session.add_all(NotificationRule(tenant_id=tenant_id, user_id=user.id,
                                     contact_method_id=methods[i].id, urgency=urgency,
                                     delay_minutes=delay, created_at=now)
                    for i, urgency, delay in wanted_rules)
    session.flush()
    return outcome


def _export_users(session: Session, tenant_id: int) -> list[dict[str, Any]]:
    out = []
    for user in session.scalars(select(User).where(User.tenant_id == tenant_id)
                                .order_by(User.username)):
        doc: dict[str, Any] = {k: getattr(user, k) for k in _USER_FIELDS
                               if getattr(user, k) != _USER_DEFAULTS.get(k)}
        methods = svc.methods_of(session, user.id)
        triples = [(m.type, m.address, m.label) for m in methods]
        if methods:
            doc["contact_methods"] = [{"type": t, "address": a, **({"label": lb} if lb else {})}
                                      for t, a, lb in triples]
        index = {m.id: i for i, m in enumerate(methods)}
        rules = []
        for r in svc.rules_of(session, user.id):
            i = index[r.contact_method_id]
            kind, address, label = triples[i]
            ref = next((c for c in (label, kind, address) if c and _resolve(c, triples) == i),
                       address)
            rules.append({"contact": ref, "urgency": r.urgency,
                          "delay_minutes": r.delay_minutes})
        if rules:
            doc["notification_rules"] = rules
        out.append(doc)
    return out


def _apply_team(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
    assert isinstance(body, TeamCreate)
    _check_team(body)

    def check() -> None:
        try:
            svc.check_members(session, tenant_id, body.members)
        except InvalidInput as exc:
            raise InvalidInput(f"Team {body.name!r}: {exc.message}", field=exc.field) from None
    defer(session, check)
    team = svc.team_by_name(session, tenant_id, body.name)
    if team is None:
        svc.create_team(session, tenant_id=tenant_id, body=body, now=now, verify=False)
        return "created"
    return _update(team, body.model_dump(), now)


def _check_team(body: Any) -> None:
    assert isinstance(body, TeamCreate)
    for i, member in enumerate(body.members):
        if member in body.members[:i]:
            raise InvalidInput(f"{member!r} is listed twice", field=f"members[{i}]")


def _update(row: Team | Service, wanted: dict[str, Any], now: datetime) -> str:
    if all(getattr(row, k) == v for k, v in wanted.items()):
        return "unchanged"
    for key, value in wanted.items():
        setattr(row, key, value)
    row.updated_at = now
    return "updated"


def _export_teams(session: Session, tenant_id: int) -> list[dict[str, Any]]:
    return [{"name": t.name, **({"description": t.description} if t.description else {}),
             **({"members": list(t.members)} if t.members else {}),
             **({"escalation_policy": t.escalation_policy} if t.escalation_policy else {})}
            for t in svc.list_teams(session, tenant_id=tenant_id)]


def _apply_service(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
    assert isinstance(body, ServiceCreate)

    def check() -> None:
        try:
            svc.check_team(session, tenant_id, body.team)
        except InvalidInput as exc:
            raise InvalidInput(f"Service {body.name!r}: {exc.message}",
                               field=exc.field) from None
    defer(session, check)
    service = svc.service_by_name(session, tenant_id, body.name)
    if service is None:
        svc.create_service(session, tenant_id=tenant_id, body=body, now=now, verify=False)
        return "created"
    return _update(service, body.model_dump(), now)


def _export_services(session: Session, tenant_id: int) -> list[dict[str, Any]]:
    out = []
    for s in svc.list_services(session, tenant_id=tenant_id):
        doc: dict[str, Any] = {"name": s.name}
        for key in ("description", "team", "escalation_policy"):
            if getattr(s, key):
                doc[key] = getattr(s, key)
        if s.runbook_links:
            doc["runbook_links"] = [RunbookLink.model_validate(x).model_dump()
                                    for x in s.runbook_links]
        out.append(doc)
    return out


register("User", Kind(schema=UserDoc, apply=_apply_user, export=_export_users,
                      check=_check_user))
register("Team", Kind(schema=TeamCreate, apply=_apply_team, export=_export_teams,
                      check=_check_team))
register("Service", Kind(schema=ServiceCreate, apply=_apply_service, export=_export_services))
