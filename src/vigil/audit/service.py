"""Writing and reading the audit log. ``record`` adds a row in the caller's transaction,
so an entry commits with the change it describes, or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil.audit.masking import mask_values
from vigil.audit.models import AuditEntry
from vigil.db import Database
from vigil.http.pagination import keyset_page


def record(session: Session, *, tenant_id: int, actor: str, action: str, target: str,
           before: dict[str, Any] | None, after: dict[str, Any] | None, now: datetime,
           address: str | None = None) -> None:
    """Add one audit entry to ``session``'s transaction. Secret-bearing values in
    ``before``/``after`` are masked here, whatever the caller passes."""
    kind = target.partition(":")[0]
    session.add(AuditEntry(
        tenant_id=tenant_id, occurred_at=now, actor=actor[:200], action=action[:64],
        target=target[:400], target_type=kind[:64], address=address[:64] if address else None,
        before=mask_values(kind, before), after=mask_values(kind, after)))


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_entries(session: Session, *, tenant_id: int, filters: AuditFilter, limit: int,
                 cursor: str | None) -> tuple[list[AuditEntry], str | None]:
    """Newest first, ``limit`` at a time (keyset: stable while entries arrive)."""
    stmt = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    if filters.actor:
        stmt = stmt.where(AuditEntry.actor == filters.actor)
    if filters.action:
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.target_type:
        stmt = stmt.where(AuditEntry.target_type == filters.target_type)
    if filters.target:
        stmt = stmt.where(AuditEntry.target == filters.target)
    if filters.since is not None:
        stmt = stmt.where(AuditEntry.occurred_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(AuditEntry.occurred_at < filters.until)
    return keyset_page(session, stmt, sorts={"occurred_at": AuditEntry.occurred_at},
                       id_col=AuditEntry.id, sort="-occurred_at", limit=limit, cursor=cursor)


def entry_read(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "occurred_at": e.occurred_at.isoformat(), "actor": e.actor,
            "action": e.action, "target": e.target, "target_type": e.target_type,
            "address": e.address, "before": e.before, "after": e.after}


def purge(db: Database, *, now: datetime, retention_days: int, chunk: int = 5000) -> int:
    """Delete entries older than ``retention_days``, a chunk per transaction. Returns how
    many went."""
    cutoff = now - timedelta(days=retention_days)
    total = 0
    while True:
        with db.write() as s:
            ids = list(s.scalars(select(AuditEntry.id).where(AuditEntry.occurred_at < cutoff)
                                 .order_by(AuditEntry.id).limit(chunk)))
            if not ids:
                return total
            s.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids)))
        total += len(ids)
