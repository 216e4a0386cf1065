"""Assignment and severity escalation rules: storage, a per-node cache, and the periodic job
that raises the severity of incidents that keep firing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session

from vigil.configstate import POLICIES, StateCache, Versions, changed
from vigil.core.status import OPEN_STATUSES
from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.incidents.models import Incident, IncidentPolicy
from vigil.incidents.policies import (
    SPECS,
    AssignmentRule,
    AssignmentSpec,
    SeverityRule,
    SeveritySpec,
    escalations,
    from_severities,
    level,
)
from vigil.incidents.service import record, snapshot

_policies = cast(Table, IncidentPolicy.__table__)


def validate(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return SPECS[kind].model_validate(data).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "body"
        raise InvalidInput(f"{loc}: {first['msg']}", field=loc) from None


def upsert(session: Session, *, tenant_id: int, kind: str, data: dict[str, Any], now: datetime,
           policy_id: int | None = None, create_only: bool = False) -> tuple[IncidentPolicy, str]:
    spec = validate(kind, data)
    if policy_id is not None:
        existing: IncidentPolicy | None = get(session, tenant_id=tenant_id, kind=kind,
                                               policy_id=policy_id)
    else:
        existing = session.scalars(select(IncidentPolicy).where(
            IncidentPolicy.tenant_id == tenant_id, IncidentPolicy.kind == kind,
            IncidentPolicy.name == spec["name"])).first()
        if existing is not None and create_only:
            raise Conflict(f"a rule named {spec['name']!r} exists", field="name")
    if existing is None:
        row = IncidentPolicy(tenant_id=tenant_id, kind=kind, name=spec["name"], spec=spec,
                             created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        changed(session, POLICIES, now)
        return row, "created"
    if existing.spec == spec:
        return existing, "unchanged"
    existing.name, existing.spec, existing.updated_at = spec["name"], spec, now
    changed(session, POLICIES, now)
    return existing, "updated"


def get(session: Session, *, tenant_id: int, kind: str, policy_id: int) -> IncidentPolicy:
    row = session.get(IncidentPolicy, policy_id)
    if row is None or row.tenant_id != tenant_id or row.kind != kind:
        raise NotFound(f"no {kind} rule {policy_id}", field="id")
    return row


def delete(session: Session, *, tenant_id: int, kind: str, policy_id: int) -> None:
    session.delete(get(session, tenant_id=tenant_id, kind=kind, policy_id=policy_id))
    changed(session, POLICIES)


def list_rows(session: Session, *, tenant_id: int, kind: str) -> list[IncidentPolicy]:
    return list(session.scalars(select(IncidentPolicy).where(
        IncidentPolicy.tenant_id == tenant_id, IncidentPolicy.kind == kind)
        .order_by(IncidentPolicy.id)))


def read(row: IncidentPolicy) -> dict[str, Any]:
    return {"id": row.id, **row.spec, "created_at": row.created_at,
            "updated_at": row.updated_at}


def load(conn: Connection) -> tuple[list[AssignmentRule], list[SeverityRule]]:
    assign: list[AssignmentRule] = []
    severity: list[SeverityRule] = []
    for row in conn.execute(select(_policies).order_by(_policies.c.id)):
        if row.kind == "assignment":
            assign.append(AssignmentRule(row.id, row.tenant_id,
                                         AssignmentSpec.model_validate(row.spec)))
        elif row.kind == "severity":
            severity.append(SeverityRule(row.id, row.tenant_id,
                                         SeveritySpec.model_validate(row.spec)))
    return assign, severity


Policies = tuple[list[AssignmentRule], list[SeverityRule]]


def policy_cache(versions: Versions) -> StateCache[Policies]:
    """Assignment and severity rules per node, kept while none changes."""
    def _load(conn: Connection, _key: object, _now: datetime | None) -> Policies:
        return load(conn)

    return StateCache(_load, versions=versions, topic=POLICIES)


def escalate_severities(session: Session, rules: list[SeverityRule], now: datetime) -> int:
    """Raise the severity of every incident a rule says is due; returns how many."""
    if not rules:
        return 0
    done = 0
    for tenant_id, levels in from_severities(rules).items():
        candidates = list(session.scalars(select(Incident).where(
            Incident.tenant_id == tenant_id, Incident.status.in_(OPEN_STATUSES),
            Incident.severity.in_(sorted(levels)), Incident.pending.is_(False),
            Incident.open_alert_count > 0).with_for_update()))
        for inc, rule in escalations([r for r in rules if r.tenant_id == tenant_id],
                                     candidates, now):
            assert isinstance(inc, Incident)
            before = snapshot(inc)
            reason = rule.reason(inc, now)
            inc.severity = level(rule.spec.to_severity)
            record(session, inc, now=now, actor=f"rule:{rule.spec.name}",
                   kind="severity_escalated", message=f"Severity raised {reason}",
                   before=before, topic="incident.updated")
            done += 1
    return done


