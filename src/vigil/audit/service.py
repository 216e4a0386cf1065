"""Writing and reading the audit log. ``record`` adds a row in the caller's transaction,
so an entry commits with the change it describes, or not at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vigil.audit.masking import mask_values
from vigil.audit.models import AuditEntry


def record(session: Session, *, tenant_id: int, actor: str, action: str, target: str,
           before: dict[str, Any] | None, after: dict[str, Any] | None, now: datetime,
           address: str | None = None) -> None:
    """Add one audit entry to ``session``'s transaction. Secret-bearing values in
    ``before``/``after`` are masked here, whatever the caller passes."""
    kind = target.partition(":")[0]
    session.add(AuditEntry(
        tenant_id=tenant_id, at=now, actor=actor[:200], action=action[:64],
        target=target[:400], target_type=kind[:64], address=address[:64] if address else None,
        before=mask_values(kind, before), after=mask_values(kind, after)))
