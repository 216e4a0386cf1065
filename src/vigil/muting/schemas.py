from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MatcherIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    op: str = "="
    value: str = Field(max_length=1000)


class SilenceCreate(BaseModel):
    """Matchers as objects or as Alertmanager-style strings (``service=~"db|cache"``); an
    end time, or a duration in minutes from now (or from ``starts_at``)."""

    model_config = ConfigDict(extra="forbid")

    matchers: list[MatcherIn | str] = Field(min_length=1, max_length=50)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 366)
    comment: str = Field(default="", max_length=5000)


class SilenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    matchers: list[dict[str, Any]]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    created_at: datetime
    state: str = ""
