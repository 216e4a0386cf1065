"""Opsgenie Alert API (``POST /v2/alerts`` and acknowledge/close by alias or id).

``alias`` is the dedup key; a repeat raises the alert's count, as in Opsgenie. Without
an alias the identity is what the alert says (message, entity, source).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.core.event import Action, AlertEvent
from vigil.core.severity import parse_severity
from vigil.integrations.base import (
    DEFAULT_LIMITS,
    Limits,
    check_event,
    check_length,
    derived_key,
    invalid_from,
    str_map,
)

_PRIORITY = {"P1": "critical", "P2": "high", "P3": "warning", "P4": "info", "P5": "low"}


class OGCreate(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str = Field(min_length=1, max_length=130)
    alias: str | None = Field(default=None, max_length=512)
    description: str | None = Field(default=None, max_length=15000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    details: dict[str, Any] = Field(default_factory=dict)
    entity: str | None = Field(default=None, max_length=512)
    source: str | None = Field(default=None, max_length=100)
    priority: str = Field(default="P3", pattern="^P[1-5]$")
    user: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=25000)


class OGAction(BaseModel):
    model_config = ConfigDict(extra="allow")

    user: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=25000)


def parse_create(payload: Any, limits: Limits = DEFAULT_LIMITS) -> AlertEvent:
    try:
        body = OGCreate.model_validate(payload)
    except ValidationError as exc:
        raise invalid_from(exc) from None
    details = str_map(body.details)
    labels = {"message": body.message}
    if body.entity:
        labels["entity"] = body.entity
    if body.source:
        labels["source"] = body.source
    ann = dict(details)
    if body.tags:
        ann["tags"] = ",".join(body.tags)
        check_length(ann["tags"], "tags", limits.ingest_max_description_chars,
                     "ingest_max_description_chars")
    if body.entity:
        ann.setdefault("entity", body.entity)
    return check_event(AlertEvent(
        action=Action.TRIGGER,
        source="opsgenie",
        name=body.message,
        summary=body.message,
        description=body.description,
        severity=parse_severity(_PRIORITY[body.priority]),
        dedup_key=body.alias or derived_key(labels, body.message),
        service=details.get("service") or body.entity,
        environment=details.get("environment") or details.get("env"),
        labels=labels,
        annotations=ann,
        raw=payload,
        actor=body.user,
    ), limits, name="message", summary="message", description="description", labels="",
        annotations="details")


def parse_action(payload: Any) -> OGAction:
    try:
        return OGAction.model_validate(payload if payload is not None else {})
    except ValidationError as exc:
        raise invalid_from(exc) from None
