"""Maintenance windows and inhibition rules as YAML documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vigil.document_kinds import Kind, register
from vigil.muting import rules_service
from vigil.muting.inhibition import validate_inhibit_rule
from vigil.muting.maintenance import validate_window


class Named(BaseModel):
    """The fields are checked by the rules' own validators (which name the field)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=200)


def _body(body: Any) -> dict[str, Any]:
    assert isinstance(body, BaseModel)
    return body.model_dump()


def _apply_window(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
    _, outcome = rules_service.upsert_window(session, tenant_id=tenant_id, data=_body(body),
                                     actor="vigil apply", now=now)
    return outcome


def _export_windows(session: Session, tenant_id: int) -> list[dict[str, Any]]:
    out = []
    for w in rules_service.list_windows(session, tenant_id=tenant_id):
        spec = {k: v for k, v in w.spec.items() if v not in (None, [])}
        out.append({"name": w.name, **({"comment": w.comment} if w.comment else {}), **spec})
    return out


def _check_window(body: Any) -> None:
    data = _body(body)
    validate_window({k: v for k, v in data.items() if k not in ("name", "comment")})


def _apply_inhibition(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
    _, outcome = rules_service.upsert_inhibition(session, tenant_id=tenant_id,
                                                 data=_body(body), now=now)
    return outcome


def _export_inhibitions(session: Session, tenant_id: int) -> list[dict[str, Any]]:
    return [{"name": r.name, **r.spec}
            for r in rules_service.list_inhibitions(session, tenant_id=tenant_id)]


register("MaintenanceWindow", Kind(schema=Named, apply=_apply_window, export=_export_windows,
                                   check=_check_window))
def _check_inhibition(body: Any) -> None:
    validate_inhibit_rule(_body(body))


register("InhibitionRule", Kind(schema=Named, apply=_apply_inhibition,
                                export=_export_inhibitions, check=_check_inhibition))
