"""An incident's escalation as people read it: the policy in effect and where it comes
from, the status, the current step (n of m) and its targets, the next step and when it is
due, and the pages sent (from the delivery log). Shared by the incident page and
``GET /api/v1/incidents/{id}/escalation``, so both say the same.

``describe`` is pure (data in, a JSON-able dict out); ``load`` reads what it needs in a few
queries, none per step or per page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.clock import ensure_utc
from vigil.errors import InvalidInput
from vigil.incidents.models import Incident
from vigil.notify.models import Delivery
from vigil.oncall.escalation import engine
from vigil.oncall.escalation import policy as esc
from vigil.oncall.escalation.parse import parse_policy
from vigil.oncall.models import Escalation, Service

#: The newest pages shown (the rest: ``GET /api/v1/deliveries?incident_id=``).
PAGES_SHOWN = 50
#: Delivery statuses that will still change.
PAGES_UNDER_WAY = frozenset({"pending", "sending", "retrying"})


def target(t: esc.Target) -> dict[str, Any]:
    """``{"type": "schedule", "id": "primary"}``; a round robin also lists its users."""
    out: dict[str, Any] = {"type": t.kind.value, "id": t.id}
    if t.kind is esc.TargetKind.ROUND_ROBIN:
        out["users"] = list(t.users)
    return out


def _step(policy: esc.Policy | None, index: int, repeat: int) -> dict[str, Any]:
    """Step ``index`` (0-based) as ``number`` (1-based) of ``of`` with its targets (none
    when the policy is gone or no longer has that step)."""
    step = policy.steps[index] if policy is not None and index < len(policy.steps) else None
    return {"number": index + 1, "of": len(policy.steps) if policy is not None else None,
            "repeat": repeat,
            "urgency": step.urgency.value if step is not None else None,
            "multi_ack": step.multi_ack if step is not None else False,
            "targets": [target(t) for t in step.targets] if step is not None else []}


def _current(state: esc.EscalationState) -> esc.Fired | None:
    """The last step fired (not skipped) since the escalation (re)started."""
    for entry in reversed(state.fired):
        if entry.epoch != state.epoch:
            return None
        if not entry.skipped:
            return entry
    return None


def page(d: Delivery) -> dict[str, Any]:
    """One delivery of an escalation page: who, which step, by which channel, and what
    became of it."""
    p = d.payload or {}
    step, repeat = p.get("step"), p.get("repeat")
    return {"id": d.id, "recipient": d.recipient, "target_type": p.get("target_kind"),
            "target": p.get("target"), "channel": d.channel_kind, "address": d.address,
            "status": d.status,
            "step": step + 1 if isinstance(step, int) else None,
            "repeat": repeat if isinstance(repeat, int) else None,
            "epoch": p.get("epoch") if isinstance(p.get("epoch"), int) else None,
            "urgency": p.get("urgency"),
            "due_at": _instant(p.get("due_at")), "sent_at": d.sent_at,
            "next_attempt_at": d.next_attempt_at if d.status in PAGES_UNDER_WAY else None,
            "attempts": d.attempts, "last_error": d.last_error, "updated_at": d.updated_at}


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return ensure_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def describe(*, policy_name: str | None, source: str | None, source_name: str | None,
             inline: bool, policy: esc.Policy | None, row_status: str | None,
             next_at: datetime | None, raw_state: dict[str, Any] | None,
             pages: list[dict[str, Any]], more_pages: bool) -> dict[str, Any]:
    """The view of one incident's escalation. ``row_status`` / ``raw_state`` are None when
    the incident has no escalation (then ``policy_name`` is the one it would start with)."""
    out: dict[str, Any] = {
        "policy": policy_name, "policy_source": source, "policy_source_name": source_name,
        "policy_missing": policy_name is not None and policy is None,
        "inline": inline, "status": row_status or "none", "next_at": next_at,
        "steps": len(policy.steps) if policy is not None else None,
        "repeats": policy.repeat if policy is not None else None,
        "step": None, "next_step": None, "can_escalate": False,
        "acknowledged_by": [], "acknowledged_at": None,
        "pages": pages, "pages_more": more_pages, "state": raw_state}
    if raw_state is None:
        return out
    state = esc.EscalationState.from_dict(raw_state)
    out["acknowledged_by"] = sorted(state.acked_by)
    out["acknowledged_at"] = state.ack_at
    fired = _current(state)
    if fired is not None:
        out["step"] = {**_step(policy, fired.step_index, fired.repeat),
                       "due_at": fired.due_at, "fired_at": fired.fired_at,
                       "persons": list(fired.persons)}
    if state.status is esc.Status.ACTIVE and state.next_due_at is not None:
        out["next_step"] = {**_step(policy, state.step_index, state.repeat),
                            "at": state.next_due_at, "restart": False}
    elif state.status is esc.Status.ACKNOWLEDGED and state.next_due_at is not None:
        # an acknowledgement that times out starts over from the first step
        out["next_step"] = {**_step(policy, 0, 0), "at": state.next_due_at, "restart": True}
    out["can_escalate"] = (policy is not None
                           and state.status in (esc.Status.ACTIVE, esc.Status.ACKNOWLEDGED)
                           and state.step_index < len(policy.steps))
    return out


def _source(session: Session, inc: Incident, name: str | None,
            configured: str | None) -> tuple[str | None, str | None]:
    """Where ``name`` (the configured policy, as ``engine.policy_for`` found it) comes from:
    the incident itself, one of its services, or its team."""
    if name is None or name != configured:
        return None, None
    if inc.escalation_policy == name:
        return "incident", None
    if inc.services:
        service = session.scalars(select(Service.name).where(
            Service.tenant_id == inc.tenant_id, Service.name.in_(inc.services),
            Service.escalation_policy == name).order_by(Service.name).limit(1)).first()
        if service is not None:
            return "service", service
    if inc.team:
        return "team", inc.team
    return None, None


def load(session: Session, inc: Incident) -> dict[str, Any]:
    """Read and ``describe`` the incident's escalation: its row, the configured policy (and
    where it comes from), the policy's steps, and the newest ``PAGES_SHOWN`` pages."""
    row = session.scalars(select(Escalation).where(
        Escalation.tenant_id == inc.tenant_id, Escalation.incident_id == inc.id)).first()
    configured = engine.policy_for(session, inc)
    name = row.policy if row is not None else configured
    inline = row is not None and row.inline_policy is not None
    source, source_name = ("direct", None) if inline else _source(session, inc, name,
                                                                  configured)
    policy: esc.Policy | None = None
    try:
        if row is not None and row.inline_policy is not None:
            policy = parse_policy(row.inline_policy)
        elif name is not None:
            policy = engine.Lookups(session, inc.tenant_id).policy(name)
    except InvalidInput:  # a stored policy that no longer validates: shown as missing
        policy = None
    pages: list[dict[str, Any]] = []
    more = False
    if row is not None:
        found = list(session.scalars(select(Delivery).where(
            Delivery.tenant_id == inc.tenant_id, Delivery.incident_id == inc.id,
            Delivery.key.like(f"{int(inc.id)}:%"))  # escalation pages, not routing rules
            .order_by(Delivery.id.desc()).limit(PAGES_SHOWN + 1)))
        more = len(found) > PAGES_SHOWN
        pages = [page(d) for d in reversed(found[:PAGES_SHOWN])]
    return describe(policy_name=name, source=source, source_name=source_name, inline=inline,
                    policy=policy, row_status=row.status if row is not None else None,
                    next_at=row.next_at if row is not None else None,
                    raw_state=row.state if row is not None else None, pages=pages,
                    more_pages=more)
