"""Correlation rules: create, change, delete, list (every rule compiled at save time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.configstate import RULES, changed
from vigil.correlation.models import CorrelationRule
from vigil.correlation.routing import compile_rule, index_of
from vigil.correlation.schemas import RuleCreate, RuleRead, RuleUpdate
from vigil.errors import Conflict, NotFound

FIELDS = tuple(f for f in RuleCreate.model_fields)


def read(rule: CorrelationRule) -> RuleRead:
    out = RuleRead.model_validate(rule)
    index = index_of(rule.condition or "")  # what compile_rule files it under; no compiling
    out.indexed_by = f"{index[0]} in {list(index[1])}" if index else None
    return out


def as_dict(rule: CorrelationRule) -> dict[str, Any]:
    return {f: getattr(rule, f) for f in FIELDS}


def _by_name(session: Session, tenant_id: int, name: str) -> CorrelationRule | None:
    return session.scalars(select(CorrelationRule).where(
        CorrelationRule.tenant_id == tenant_id, CorrelationRule.name == name)).first()


def create_rule(session: Session, *, tenant_id: int, body: RuleCreate,
                now: datetime) -> CorrelationRule:
    compile_rule(body.model_dump())  # refuses invalid CEL, fields and templates (422)
    if _by_name(session, tenant_id, body.name) is not None:
        raise Conflict(f"a rule named {body.name!r} exists", field="name")
    rule = CorrelationRule(tenant_id=tenant_id, created_at=now, updated_at=now,
                           **body.model_dump())
    session.add(rule)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a rule named {body.name!r} exists", field="name") from None
    changed(session, RULES, now)
    return rule


def get_rule(session: Session, *, tenant_id: int, rule_id: int) -> CorrelationRule:
    rule = session.get(CorrelationRule, rule_id)
    if rule is None or rule.tenant_id != tenant_id:
        raise NotFound(f"no correlation rule {rule_id}", field="id")
    return rule


def update_rule(session: Session, *, tenant_id: int, rule_id: int, body: RuleUpdate,
                now: datetime) -> CorrelationRule:
    rule = get_rule(session, tenant_id=tenant_id, rule_id=rule_id)
    changes = body.model_dump(exclude_unset=True)
    merged = {**as_dict(rule), **changes}
    compile_rule(merged)
    if "name" in changes and changes["name"] != rule.name and \
            _by_name(session, tenant_id, changes["name"]) is not None:
        raise Conflict(f"a rule named {changes['name']!r} exists", field="name")
    for key, value in changes.items():
        setattr(rule, key, value)
    rule.updated_at = now
    changed(session, RULES, now)
    return rule


def delete_rule(session: Session, *, tenant_id: int, rule_id: int) -> None:
    session.delete(get_rule(session, tenant_id=tenant_id, rule_id=rule_id))
    changed(session, RULES)


def list_rules(session: Session, *, tenant_id: int) -> list[CorrelationRule]:
    return list(session.scalars(select(CorrelationRule)
                                .where(CorrelationRule.tenant_id == tenant_id)
                                .order_by(CorrelationRule.position, CorrelationRule.id)))


def apply_rule(session: Session, *, tenant_id: int, body: RuleCreate,
               now: datetime) -> str:
    """Create or update the rule named ``body.name``; "created", "updated" or "unchanged"."""
    existing = _by_name(session, tenant_id, body.name)
    if existing is None:
        create_rule(session, tenant_id=tenant_id, body=body, now=now)
        return "created"
    wanted = body.model_dump()
    if as_dict(existing) == wanted:
        return "unchanged"
    compile_rule(wanted)
    for key, value in wanted.items():
        setattr(existing, key, value)
    existing.updated_at = now
    changed(session, RULES, now)
    return "updated"
