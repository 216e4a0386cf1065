from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from vigil.core.severity import Severity


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    integration_id: int | None
    fingerprint: str
    dedup_key: str | None
    source: str
    status: str
    suppressed_by: str | None = None
    severity: str
    name: str
    summary: str
    description: str | None
    service: str | None
    environment: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    links: list[dict[str, str]]
    starts_at: datetime | None
    ends_at: datetime | None
    first_received_at: datetime
    last_received_at: datetime
    occurrences: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, v: Any) -> str:
        return Severity(v).label if isinstance(v, int) else str(v)


class AlertEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    outcome: str
    actor: str | None
    received_at: datetime
    payload: dict[str, Any]


class AlertDetail(AlertRead):
    raw: dict[str, Any]
    events: list[AlertEventRead]


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_cursor: str | None


class AlertAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = None
