"""Escalation policies as YAML documents (``kind: EscalationPolicy``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from vigil.document_kinds import Kind, register
from vigil.oncall.escalation import service as svc
from vigil.oncall.escalation.parse import parse_policy


class PolicyDoc(BaseModel):
    """Checked by ``parse_policy`` (which names the field)."""

    model_config = ConfigDict(extra="allow")

    name: str


def _apply(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
    _, outcome = svc.upsert(session, tenant_id=tenant_id, data=body.model_dump(), now=now)
    return outcome


def _export(session: Session, tenant_id: int) -> list[dict[str, Any]]:
    return [dict(row.definition) for row in svc.list_rows(session, tenant_id=tenant_id)]


def _check(body: Any) -> None:
    parse_policy(body.model_dump())


register("EscalationPolicy", Kind(schema=PolicyDoc, apply=_apply, export=_export,
                                  check=_check))
