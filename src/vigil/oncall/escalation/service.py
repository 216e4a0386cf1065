"""Escalation policies: stored as their validated dict form; referenced by name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.auth.models import User
from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.oncall.escalation.parse import parse_policy
from vigil.oncall.escalation.policy import Policy, TargetKind
from vigil.oncall.models import EscalationPolicyRow, ScheduleRow, Service, Team


def read(row: EscalationPolicyRow) -> dict[str, Any]:
    return {"id": row.id, **row.definition, "created_at": row.created_at,
            "updated_at": row.updated_at}


def by_name(session: Session, *, tenant_id: int, name: str) -> EscalationPolicyRow | None:
    return session.scalars(select(EscalationPolicyRow).where(
        EscalationPolicyRow.tenant_id == tenant_id, EscalationPolicyRow.name == name)).first()


def get(session: Session, *, tenant_id: int, policy_id: int) -> EscalationPolicyRow:
    row = session.get(EscalationPolicyRow, policy_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"no escalation policy {policy_id}", field="id")
    return row


def list_rows(session: Session, *, tenant_id: int) -> list[EscalationPolicyRow]:
    return list(session.scalars(select(EscalationPolicyRow).where(
        EscalationPolicyRow.tenant_id == tenant_id).order_by(EscalationPolicyRow.name)))


def check_target(session: Session, *, tenant_id: int, target: dict[str, Any],
                 field: str) -> None:
    """A person, team or schedule a policy or page names must exist."""
    for kind, model, column in (("user", User, User.username), ("team", Team, Team.name),
                                ("schedule", ScheduleRow, ScheduleRow.name)):
        name = target.get(kind)
        if name is None and target.get("type") == kind:
            name = target.get("id")
        if name is not None and session.scalars(select(model.id).where(
                model.tenant_id == tenant_id, column == name)).first() is None:
            raise InvalidInput(f"{field}: no {kind} {name!r}", field=field)


def check_targets(session: Session, *, tenant_id: int, policy: Policy,
                  data: dict[str, Any]) -> None:
    """Every user (user targets and round-robin users), team and schedule ``policy`` names
    must exist: InvalidInput naming the field, ``steps[0].targets[1]`` or, for a round
    robin's user, ``steps[0].targets[1].users[2]`` (``.round_robin[2]`` in the shorthand).
    ``data`` is the dict ``policy`` was parsed from."""
    users: set[str] | None = None
    for i, (step, raw_step) in enumerate(zip(policy.steps, data["steps"], strict=True)):
        for j, (target, raw) in enumerate(zip(step.targets, raw_step["targets"],
                                              strict=True)):
            field = f"steps[{i}].targets[{j}]"
            if target.kind is TargetKind.ROUND_ROBIN:
                if users is None:
                    users = set(session.scalars(select(User.username).where(
                        User.tenant_id == tenant_id)))
                key = "users" if "type" in raw else TargetKind.ROUND_ROBIN.value
                for k, user in enumerate(target.users):
                    if user not in users:
                        raise InvalidInput(f"{field}.{key}[{k}]: no user {user!r}",
                                           field=f"{field}.{key}[{k}]")
            elif target.kind in (TargetKind.USER, TargetKind.TEAM, TargetKind.SCHEDULE):
                check_target(session, tenant_id=tenant_id, target={target.kind.value: target.id},
                             field=field)


def upsert(session: Session, *, tenant_id: int, data: dict[str, Any], now: datetime,
           policy_id: int | None = None, create_only: bool = False
           ) -> tuple[EscalationPolicyRow, str]:
    policy = parse_policy(data)  # 422 naming the field
    check_targets(session, tenant_id=tenant_id, policy=policy, data=data)
    existing = (get(session, tenant_id=tenant_id, policy_id=policy_id) if policy_id is not None
                else by_name(session, tenant_id=tenant_id, name=policy.name))
    if existing is not None and create_only:
        raise Conflict(f"an escalation policy named {policy.name!r} exists", field="name")
    if existing is None:
        row = EscalationPolicyRow(tenant_id=tenant_id, name=policy.name, definition=dict(data),
                                  created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        return row, "created"
    if existing.definition == dict(data):
        return existing, "unchanged"
    existing.name, existing.definition, existing.updated_at = policy.name, dict(data), now
    return existing, "updated"


def delete(session: Session, *, tenant_id: int, policy_id: int) -> None:
    """Refused (409, listing them) while teams or services use the policy."""
    row = get(session, tenant_id=tenant_id, policy_id=policy_id)
    users = [f'team "{n}"' for n in session.scalars(select(Team.name).where(
        Team.tenant_id == tenant_id, Team.escalation_policy == row.name))]
    users += [f'service "{n}"' for n in session.scalars(select(Service.name).where(
        Service.tenant_id == tenant_id, Service.escalation_policy == row.name))]
    if users:
        raise Conflict(f"escalation policy {row.name!r} is used by {'; '.join(users)}",
                       field="id", details=[{"place": u} for u in users])
    session.delete(row)
