"""Correlation rules as YAML documents (``kind: CorrelationRule``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vigil.correlation import service
from vigil.correlation.routing import compile_rule
from vigil.correlation.schemas import RuleCreate
from vigil.document_kinds import Kind, register


def _apply(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
    assert isinstance(body, RuleCreate)
    return service.apply_rule(session, tenant_id=tenant_id, body=body, now=now)


def _export(session: Session, tenant_id: int) -> list[dict[str, Any]]:
    out = []
    defaults = RuleCreate(name="x").model_dump()
    for rule in service.list_rules(session, tenant_id=tenant_id):
        data = service.as_dict(rule)
        out.append({"name": data.pop("name"),
                    **{k: v for k, v in data.items() if v != defaults.get(k)}})
    return out


def _check(body: Any) -> None:
    compile_rule(body.model_dump())


register("CorrelationRule", Kind(schema=RuleCreate, apply=_apply, export=_export,
                                 check=_check))
