"""Maintenance windows and inhibition rules: create (validated at save time), list, change,
delete. Services never commit; the API owns the unit of work. Each change is announced
to every node's caches (``configstate.changed``) in its transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.configstate import INHIBITIONS, WINDOWS, changed
from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.muting.inhibition import rule_to_dict, validate_inhibit_rule
from vigil.muting.maintenance import (
    active_at,
    next_occurrences,
    validate_window,
    window_to_dict,
)
from vigil.muting.models import InhibitionRule, MaintenanceWindow

_OWN = ("name", "comment")


def _name(data: dict[str, Any]) -> str:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput("name: a name of 1 to 200 characters is required", field="name")
    return name.strip()


def window_read(w: MaintenanceWindow, now: datetime) -> dict[str, Any]:
    spec = validate_window(w.spec)
    current = active_at(spec, now)
    upcoming = next_occurrences(spec, now, 5)
    return {"id": w.id, "name": w.name, "comment": w.comment, **w.spec,
            "state": "active" if current else ("scheduled" if upcoming else "expired"),
            "active_until": current[1] if current else None,
            "next": [{"starts_at": a, "ends_at": b} for a, b in upcoming],
            "created_by": w.created_by, "created_at": w.created_at,
            "updated_at": w.updated_at}


def upsert_window(session: Session, *, tenant_id: int, data: dict[str, Any], actor: str,
                  now: datetime, window_id: int | None = None) -> tuple[MaintenanceWindow, str]:
    """Create (or, with ``window_id`` or a known name, replace) a window."""
    name = _name(data)
    comment = data.get("comment") or ""
    if not isinstance(comment, str):
        raise InvalidInput("comment: expected text", field="comment")
    unknown = set(data) - {*_OWN, "matchers", "starts_at", "ends_at", "duration_minutes",
                           "schedule"}
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInput(f"{field}: unknown field", field=field)
    body = {k: v for k, v in data.items() if k not in _OWN}
    try:  # as stored, whatever the time (a window given as a duration from now has none)
        spec: dict[str, Any] | None = window_to_dict(validate_window(body))
    except InvalidInput:
        spec = None
    existing = (get_window(session, tenant_id=tenant_id, window_id=window_id)
                if window_id is not None else session.scalars(select(MaintenanceWindow).where(
                    MaintenanceWindow.tenant_id == tenant_id,
                    MaintenanceWindow.name == name)).first())
    if existing is not None and spec is not None and (
            existing.name, existing.spec, existing.comment) == (name, spec, comment):
        return existing, "unchanged"  # re-applying a window that has ended is no error
    spec = window_to_dict(validate_window(body, now=now))  # a new one must lie ahead
    assert spec is not None
    if existing is None:
        w = MaintenanceWindow(tenant_id=tenant_id, name=name, spec=spec, comment=comment,
                              created_by=actor, created_at=now, updated_at=now)
        session.add(w)
        session.flush()
        changed(session, WINDOWS, now)
        return w, "created"
    if window_id is not None and existing.name != name and session.scalars(
            select(MaintenanceWindow.id).where(MaintenanceWindow.tenant_id == tenant_id,
                                               MaintenanceWindow.name == name)).first():
        raise Conflict(f"a maintenance window named {name!r} exists", field="name")
    if (existing.name, existing.spec, existing.comment) == (name, spec, comment):
        return existing, "unchanged"
    existing.name, existing.spec, existing.comment = name, spec, comment
    existing.updated_at = now
    changed(session, WINDOWS, now)
    return existing, "updated"


def get_window(session: Session, *, tenant_id: int, window_id: int) -> MaintenanceWindow:
    w = session.get(MaintenanceWindow, window_id)
    if w is None or w.tenant_id != tenant_id:
        raise NotFound(f"no maintenance window {window_id}", field="id")
    return w


def list_windows(session: Session, *, tenant_id: int) -> list[MaintenanceWindow]:
    return list(session.scalars(select(MaintenanceWindow).where(
        MaintenanceWindow.tenant_id == tenant_id).order_by(MaintenanceWindow.id)))


def end_window(session: Session, *, tenant_id: int, window_id: int, now: datetime) -> None:
    """Delete a window (ending a running occurrence at once)."""
    session.delete(get_window(session, tenant_id=tenant_id, window_id=window_id))
    changed(session, WINDOWS, now)


def inhibition_read(r: InhibitionRule) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, **r.spec, "created_at": r.created_at,
            "updated_at": r.updated_at}


def upsert_inhibition(session: Session, *, tenant_id: int, data: dict[str, Any], now: datetime,
                      rule_id: int | None = None) -> tuple[InhibitionRule, str]:
    name = _name(data)
    unknown = set(data) - {"name", "source_matchers", "target_matchers", "equal"}
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInput(f"{field}: unknown field", field=field)
    spec = rule_to_dict(validate_inhibit_rule(data))
    existing = (get_inhibition(session, tenant_id=tenant_id, rule_id=rule_id)
                if rule_id is not None else session.scalars(select(InhibitionRule).where(
                    InhibitionRule.tenant_id == tenant_id, InhibitionRule.name == name)).first())
    if existing is None:
        r = InhibitionRule(tenant_id=tenant_id, name=name, spec=spec, created_at=now,
                           updated_at=now)
        session.add(r)
        session.flush()
        changed(session, INHIBITIONS, now)
        return r, "created"
    if (existing.name, existing.spec) == (name, spec):
        return existing, "unchanged"
    existing.name, existing.spec, existing.updated_at = name, spec, now
    changed(session, INHIBITIONS, now)
    return existing, "updated"


def get_inhibition(session: Session, *, tenant_id: int, rule_id: int) -> InhibitionRule:
    r = session.get(InhibitionRule, rule_id)
    if r is None or r.tenant_id != tenant_id:
        raise NotFound(f"no inhibition rule {rule_id}", field="id")
    return r


def delete_inhibition(session: Session, *, tenant_id: int, rule_id: int) -> None:
    session.delete(get_inhibition(session, tenant_id=tenant_id, rule_id=rule_id))
    changed(session, INHIBITIONS)


def list_inhibitions(session: Session, *, tenant_id: int) -> list[InhibitionRule]:
    return list(session.scalars(select(InhibitionRule).where(
        InhibitionRule.tenant_id == tenant_id).order_by(InhibitionRule.id)))
