"""Silences: create (validated at save time), list, expire. Each change is announced to
every node's caches (``configstate.changed``) in its transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.clock import ensure_utc
from vigil.configstate import SILENCES, changed
from vigil.errors import InvalidInput, NotFound
from vigil.muting.matchers import matcher, parse
from vigil.muting.models import Silence
from vigil.muting.schemas import SilenceCreate

STATES = ("active", "pending", "expired")


def state(s: Silence, now: datetime) -> str:
    if s.ends_at <= now:
        return "expired"
    return "pending" if s.starts_at > now else "active"


def create_silence(session: Session, *, tenant_id: int, body: SilenceCreate, actor: str,
                   now: datetime) -> Silence:
    matchers = []
    parsed_all = []
    for i, m in enumerate(body.matchers):
        where = f"matchers[{i}]"
        parsed = parse(m, field=where) if isinstance(m, str) else matcher(
            m.name, m.op, m.value, field=where)
        parsed_all.append(parsed)
        matchers.append({"name": parsed.name, "op": parsed.op, "value": parsed.value})
    # As in Alertmanager: matchers that all match an alert with no labels match everything.
    if all(p.matches({}) for p in parsed_all):
        raise InvalidInput("matchers would silence every alert; name at least one label",
                           field="matchers")
    starts = ensure_utc(body.starts_at) if body.starts_at else now
    if body.ends_at is not None and body.duration_minutes is not None:
        raise InvalidInput("give ends_at or duration_minutes, not both", field="ends_at")
    if body.ends_at is not None:
        ends = ensure_utc(body.ends_at)
    elif body.duration_minutes is not None:
        ends = starts + timedelta(minutes=body.duration_minutes)
    else:
        raise InvalidInput("a silence needs ends_at or duration_minutes", field="ends_at")
    if ends <= starts:
        raise InvalidInput("ends_at must be after starts_at", field="ends_at")
    if ends <= now:
        raise InvalidInput("ends_at is in the past", field="ends_at")
    silence = Silence(tenant_id=tenant_id, matchers=matchers, starts_at=starts, ends_at=ends,
                      comment=body.comment, created_by=actor, created_at=now)
    session.add(silence)
    session.flush()
    changed(session, SILENCES, now)
    return silence


def list_silences(session: Session, *, tenant_id: int, now: datetime,
                  states: list[str] | None = None) -> list[Silence]:
    if states and any(s not in STATES for s in states):
        raise InvalidInput(f"state must be one of {', '.join(STATES)}", field="state")
    rows = session.scalars(select(Silence).where(Silence.tenant_id == tenant_id)
                           .order_by(Silence.ends_at.desc(), Silence.id.desc()).limit(1000))
    return [s for s in rows if not states or state(s, now) in states]


def expire_silence(session: Session, *, tenant_id: int, silence_id: int,
                   now: datetime) -> Silence:
    silence = session.get(Silence, silence_id)
    if silence is None or silence.tenant_id != tenant_id:
        raise NotFound(f"no silence {silence_id}", field="id")
    if silence.ends_at > now:
        silence.ends_at = max(now, silence.starts_at)
        changed(session, SILENCES, now)
    return silence



