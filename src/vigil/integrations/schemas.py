from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

IntegrationType = Literal["alertmanager", "grafana", "generic", "pagerduty", "opsgenie"]


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    type: IntegrationType
    config: dict[str, Any] = Field(default_factory=dict)


class IntegrationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    type: str
    key: str
    config: dict[str, Any]
    created_at: datetime
    revoked_at: datetime | None
    last_received_at: datetime | None
    url: str = ""


class IngestedAlert(BaseModel):
    id: int | None
    fingerprint: str
    outcome: str
    status: str | None


class IngestResponse(BaseModel):
    accepted: int
    alerts: list[IngestedAlert]
