from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from vigil.alerts.schemas import AlertRead
from vigil.core.severity import Severity
from vigil.http.ids import BigId

SeverityName = Literal["critical", "high", "warning", "info", "low"]


class IncidentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: int
    reference: str = ""
    title: str
    summary: str
    status: str
    severity: str
    priority: str | None
    category: str | None
    type: str
    assignee: str | None
    team: str | None
    services: list[str]
    sources: list[str]
    alert_count: int
    open_alert_count: int
    resolve_on: str
    created_at: datetime
    started_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    noise: bool
    resolution: str | None
    rule_id: int | None = None
    candidate: bool = False
    pending: bool = False
    occurrences: int = 0
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    escalation_policy: str | None = None
    related_ids: list[int] = Field(default_factory=list)

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, v: Any) -> str:
        return Severity(v).label if isinstance(v, int) else str(v)

    def model_post_init(self, __context: Any) -> None:
        self.reference = f"INC-{self.number}"


class TimelineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    kind: str
    message: str
    before: dict[str, Any]
    after: dict[str, Any]


class IncidentDetail(IncidentRead):
    alerts: list[AlertRead]
    timeline: list[TimelineRead]


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    next_cursor: str | None


class IncidentAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=10000)


class IncidentResolve(IncidentAction):
    #: Resolve the incident's open alerts too (as PagerDuty does); false leaves them open,
    #: and one that fires again reopens the incident or opens a new one.
    resolve_alerts: bool | None = None


class IncidentComment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20000)


class IncidentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=512)
    severity: SeverityName | None = None
    priority: Literal["P1", "P2", "P3", "P4", "P5"] | None = None
    assignee: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=64)
    noise: bool | None = None
    resolution: str | None = Field(default=None, max_length=20000)
    custom_fields: dict[str, str | int | float | bool | None] | None = None

    # Leaving a field out leaves it alone; null clears it, which only the nullable ones
    # (priority, assignee, team, category, resolution) can be.
    @field_validator("title", "severity", "noise", "custom_fields", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("may not be null (leave the field out to keep it)")
        return v


class IncidentMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: BigId = Field(description="the incident to merge this one into")


class IncidentSimulate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: Literal["latency", "errors", "database"] = "latency"
    alerts: int = Field(default=3, ge=1, le=50)


class IncidentCreate(BaseModel):
    """An incident a person declares."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=512)
    summary: str = Field(default="", max_length=20000)
    severity: SeverityName = "high"
    priority: Literal["P1", "P2", "P3", "P4", "P5"] | None = None
    category: str | None = Field(default=None, max_length=64)
    assignee: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=200)
    services: list[str] = Field(default_factory=list, max_length=50)
    custom_fields: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    alert_ids: list[BigId] = Field(default_factory=list, max_length=1000,
                                 description="alerts to move into the new incident")


class IncidentAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(default=None, max_length=200,
                                 description="who; empty means yourself")
    team: str | None = Field(default=None, max_length=200)


class IncidentSplit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_ids: list[BigId] = Field(min_length=1, max_length=1000)
    title: str | None = Field(default=None, min_length=1, max_length=512)


class IncidentBulk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[BigId] = Field(min_length=1, max_length=500)
    action: Literal["acknowledge", "investigate", "resolve", "close", "reopen", "confirm",
                    "dismiss", "assign", "mark_noise"]
    note: str | None = Field(default=None, max_length=10000)
    assignee: str | None = Field(default=None, max_length=200)
    #: With ``resolve``: resolve the incidents' open alerts too (the default).
    resolve_alerts: bool = True

    @field_validator("resolve_alerts")
    @classmethod
    def _only_with_resolve(cls, v: bool, info: ValidationInfo) -> bool:
        if not v and info.data.get("action") != "resolve":
            raise ValueError("only the resolve action leaves alerts open")
        return v


class IncidentLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: BigId = Field(description="the related incident")
