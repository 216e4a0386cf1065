from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Severity = Literal["low", "info", "warning", "high", "critical"]
Priority = Literal["P1", "P2", "P3", "P4", "P5"]


class RuleFields(BaseModel):
    """A correlation rule as it is written (API body or one YAML document)."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=5000)
    position: int = Field(default=100, ge=0, le=1_000_000)
    enabled: bool = True
    condition: str = Field(default="", max_length=10_000,
                           description='CEL, e.g. labels.env == "prod" && '
                                       'severity in ["critical", "high"]')
    group_by: list[str] = Field(default_factory=list, max_length=20)
    window_minutes: float = Field(default=10.0, gt=0, le=60 * 24 * 30)
    create_on: Literal["any", "all"] = "any"
    threshold_alerts: int = Field(default=1, ge=1, le=100_000)
    threshold_occurrences: int = Field(default=1, ge=1, le=1_000_000)
    resolve_on: Literal["all", "first", "last", "never"] = "all"
    require_approval: bool = False
    title_template: str | None = Field(default=None, max_length=2000)
    severity: Severity | None = None
    priority: Priority | None = None
    category: str | None = Field(default=None, max_length=64)
    team: str | None = Field(default=None, max_length=200)


class RuleCreate(RuleFields):
    name: str = Field(min_length=1, max_length=200)


class RuleUpdate(BaseModel):
    """A partial change: only the fields given are changed."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    enabled: bool | None = None
    condition: str | None = Field(default=None, max_length=10_000)
    group_by: list[str] | None = Field(default=None, max_length=20)
    window_minutes: float | None = Field(default=None, gt=0, le=60 * 24 * 30)
    create_on: Literal["any", "all"] | None = None
    threshold_alerts: int | None = Field(default=None, ge=1, le=100_000)
    threshold_occurrences: int | None = Field(default=None, ge=1, le=1_000_000)
    resolve_on: Literal["all", "first", "last", "never"] | None = None
    require_approval: bool | None = None
    title_template: str | None = Field(default=None, max_length=2000)
    severity: Severity | None = None
    priority: Priority | None = None
    category: str | None = Field(default=None, max_length=64)
    team: str | None = Field(default=None, max_length=200)

    # Leaving a field out leaves it alone; null unsets it, which only the optional ones
    # (title_template, severity, priority, category, team) can be.
    @field_validator("name", "description", "position", "enabled", "condition", "group_by",
                     "window_minutes", "create_on", "threshold_alerts",
                     "threshold_occurrences", "resolve_on", "require_approval", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("may not be null (leave the field out to keep it)")
        return v


class RuleRead(RuleCreate):
    model_config = ConfigDict(from_attributes=True)

    id: int
    indexed_by: str | None = None
    created_at: datetime
    updated_at: datetime


class RuleTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert: dict[str, object] = Field(description="labels, annotations, name, service, "
                                                 "severity, source ... of a sample alert")
