"""Assignment and severity escalation rules as YAML documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vigil.document_kinds import Kind, register
from vigil.incidents import policy_service as svc
from vigil.incidents.policies import AssignmentSpec, SeveritySpec


def _kind(kind: str, schema: Any) -> Kind:
    def apply(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
        _, outcome = svc.upsert(session, tenant_id=tenant_id, kind=kind,
                                data=body.model_dump(), now=now)
        return outcome

    def export(session: Session, tenant_id: int) -> list[dict[str, Any]]:
        defaults = {k: f.default for k, f in schema.model_fields.items()}
        return [{k: v for k, v in row.spec.items() if v != defaults.get(k) or k == "name"}
                for row in svc.list_rows(session, tenant_id=tenant_id, kind=kind)]

    return Kind(schema=schema, apply=apply, export=export)


register("AssignmentRule", _kind("assignment", AssignmentSpec))
register("SeverityRule", _kind("severity", SeveritySpec))
