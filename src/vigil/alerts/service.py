"""Reading alerts: filtered, sorted, keyset-paginated lists and one alert with its history."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from vigil.alerts.models import Alert, AlertEventRecord
from vigil.errors import InvalidInput, NotFound
from vigil.pipeline.event import Severity

SORTS: dict[str, Any] = {
    "last_received_at": Alert.last_received_at,
    "first_received_at": Alert.first_received_at,
    "severity": Alert.severity,
    "occurrences": Alert.occurrences,
    "id": Alert.id,
}
STATUSES = ("firing", "acknowledged", "resolved", "suppressed")


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


def encode_cursor(value: Any, ident: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return base64.urlsafe_b64encode(orjson.dumps([value, ident])).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        value, ident = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if sort.endswith("_at"):
            value = datetime.fromisoformat(value)
        elif not isinstance(value, int):
            raise ValueError(value)
        return value, int(ident)
    except Exception:
        raise InvalidInput("cursor is not one this API gave out", field="cursor") from None


def list_alerts(
    session: Session, *, tenant_id: int, filters: AlertFilter, sort: str = "-last_received_at",
    limit: int = 50, cursor: str | None = None,
) -> tuple[list[Alert], str | None]:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)} (prefix - for descending)",
                           field="sort")
    col = SORTS[key]
    stmt = _where(select(Alert).where(Alert.tenant_id == tenant_id), filters)
    if cursor:
        value, ident = decode_cursor(cursor, key)
        if key == "id":
            stmt = stmt.where(Alert.id < ident if descending else Alert.id > ident)
        elif descending:
            stmt = stmt.where(or_(col < value, and_(col == value, Alert.id < ident)))
        else:
            stmt = stmt.where(or_(col > value, and_(col == value, Alert.id > ident)))
    order = [col.desc(), Alert.id.desc()] if descending else [col.asc(), Alert.id.asc()]
    if key == "id":
        order = order[:1]
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, key), last.id)
    return rows, next_cursor


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



