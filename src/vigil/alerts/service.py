"""Reading alerts: filtered, sorted, keyset-paginated lists and one alert with its history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from vigil.alerts.models import Alert, AlertEventRecord
from vigil.core.severity import Severity
from vigil.core.status import ALERT_STATUSES
from vigil.errors import InvalidInput, NotFound
from vigil.http.pagination import keyset_page

SORTS: dict[str, Any] = {
    "last_received_at": Alert.last_received_at,
    "first_received_at": Alert.first_received_at,
    "severity": Alert.severity,
    "occurrences": Alert.occurrences,
    "id": Alert.id,
}
STATUSES = ALERT_STATUSES


@dataclass(slots=True)
class AlertFilter:
    status: list[str] | None = None
    severity: list[str] | None = None
    service: list[str] | None = None
    labels: dict[str, str] | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    integration_id: int | None = None


def parse_label_filters(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key:
            raise InvalidInput(f"label filter {v!r} must look like key=value", field="label")
        if "\x00" in v:  # no label holds one, and PostgreSQL refuses it in text
            raise InvalidInput(f"label filter {v!r} holds a NUL character", field="label")
        out[key] = val
    return out


def _where(stmt: Select[Any], f: AlertFilter) -> Select[Any]:
    if f.status:
        bad = [s for s in f.status if s not in STATUSES]
        if bad:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
        stmt = stmt.where(Alert.status.in_(f.status))
    if f.severity:
        try:
            levels = [int(Severity[s.upper()]) for s in f.severity]
        except KeyError:
            raise InvalidInput(
                "severity must be one of critical, high, warning, info, low", field="severity"
            ) from None
        stmt = stmt.where(Alert.severity.in_(levels))
    if f.service:
        stmt = stmt.where(Alert.service.in_(f.service))
    for key, value in (f.labels or {}).items():
        stmt = stmt.where(Alert.labels[key].as_string() == value)
    if f.text:
        pattern = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(Alert.name.ilike(pattern, escape="\\"), Alert.summary.ilike(pattern, escape="\\"))
        )
    if f.since:
        stmt = stmt.where(Alert.last_received_at >= f.since)
    if f.until:
        stmt = stmt.where(Alert.first_received_at < f.until)
    if f.integration_id is not None:
        stmt = stmt.where(Alert.integration_id == f.integration_id)
    return stmt


def list_alerts(
    session: Session, *, tenant_id: int, filters: AlertFilter, sort: str = "-last_received_at",
    limit: int = 50, cursor: str | None = None,
) -> tuple[list[Alert], str | None]:
    stmt = _where(select(Alert).where(Alert.tenant_id == tenant_id), filters)
    return keyset_page(session, stmt, sorts=SORTS, id_col=Alert.id, sort=sort, limit=limit,
                       cursor=cursor)


def get_alert(session: Session, *, tenant_id: int, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.tenant_id != tenant_id:
        raise NotFound(f"no alert {alert_id}", field="id")
    return alert


def alert_events(session: Session, *, alert_id: int, limit: int = 100) -> list[AlertEventRecord]:
    return list(session.scalars(
        select(AlertEventRecord).where(AlertEventRecord.alert_id == alert_id)
        .order_by(AlertEventRecord.id.desc()).limit(limit)
    ))


def count_alerts(session: Session, *, tenant_id: int) -> int:


    return int(session.scalar(select(func.count(Alert.id)).where(Alert.tenant_id == tenant_id))
               or 0)



