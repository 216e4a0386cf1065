"""The one value every source becomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from vigil.core.severity import Severity


class Action(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(slots=True)
class AlertEvent:
    """A normalized event from any source. ``dedup_key`` is the source's own identity
    for the alert where it has one; ``labels`` identify it otherwise."""

    action: Action
    source: str
    name: str
    summary: str = ""
    severity: Severity = Severity.WARNING
    dedup_key: str | None = None
    description: str | None = None
    service: str | None = None
    environment: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
