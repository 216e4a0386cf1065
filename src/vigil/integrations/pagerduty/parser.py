"""PagerDuty Events API v2 (``POST /v2/enqueue``): trigger, acknowledge, resolve.

Any tool that can page PagerDuty can page Vigil by changing only the URL. The identity is
the event's ``dedup_key``; a trigger without one gets a key of its own, as PagerDuty mints
one (32 hex digits), handed back in the answer for acknowledge and resolve: two triggers
without a key are two alerts, however alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.core.event import Action, AlertEvent
from vigil.core.severity import parse_severity
from vigil.errors import InvalidInput
from vigil.integrations.base import (
    DEFAULT_LIMITS,
    Limits,
    UTCTime,
    check_event,
    invalid_from,
    optional_time,
    str_map,
)

_SEVERITY = {"critical": "critical", "error": "high", "warning": "warning", "info": "info"}


class PDLink(BaseModel):
    href: str
    text: str | None = None


class PDImage(BaseModel):
    src: str
    href: str | None = None
    alt: str | None = None


class PDPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: UTCTime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class PDEvent(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    routing_key: str = Field(min_length=1, max_length=64)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=255)
    payload: PDPayload | None = None
    client: str | None = None
    client_url: str | None = None
    links: list[PDLink] = Field(default_factory=list)
    images: list[PDImage] = Field(default_factory=list)


def parse_event(payload: Any) -> PDEvent:
    try:
        event = PDEvent.model_validate(payload)
    except ValidationError as exc:
        raise invalid_from(exc) from None
    if event.event_action == "trigger" and event.payload is None:
        raise InvalidInput("payload: a trigger needs a payload", field="payload",
                           details=[{"field": "payload", "message": "Field required"}])
    if event.event_action != "trigger" and not event.dedup_key:
        raise InvalidInput(f"dedup_key: required to {event.event_action}", field="dedup_key",
                           details=[{"field": "dedup_key", "message": "Field required"}])
    return event


def new_dedup_key() -> str:
    """A fresh key for a trigger that brings none, shaped like PagerDuty's."""
    return uuid.uuid4().hex


def to_alert_event(ev: PDEvent, raw: dict[str, Any], *,
                   new_key: Callable[[], str] = new_dedup_key,
                   limits: Limits = DEFAULT_LIMITS) -> AlertEvent:
    action = Action(ev.event_action)
    if ev.payload is None:
        return AlertEvent(action=action, source="pagerduty", name=ev.dedup_key or "",
                          dedup_key=ev.dedup_key, raw=raw)
    p = ev.payload
    details = p.custom_details if isinstance(p.custom_details, dict) else (
        {} if p.custom_details is None else {"details": p.custom_details}
    )
    labels = {"source": p.source}
    for key, value in (("component", p.component), ("group", p.group), ("class", p.class_)):
        if value:
            labels[key] = value
    # As PagerDuty: without a key, each trigger is an alert of its own under a new key.
    dedup_key = ev.dedup_key or new_key()
    ann = str_map(details)
    links = [{"href": link.href, "text": link.text or link.href} for link in ev.links]
    links += [{"href": img.href or img.src, "text": img.alt or "Image"} for img in ev.images]
    if ev.client_url:
        links.append({"href": ev.client_url, "text": ev.client or "Source"})
    return check_event(AlertEvent(
        action=action,
        source="pagerduty",
        name=p.summary,
        summary=p.summary,
        severity=parse_severity(_SEVERITY[p.severity]),
        dedup_key=dedup_key,
        service=str(details.get("service") or p.component or p.source)[:200],
        environment=(str(details["environment"]) if details.get("environment") else None),
        labels=labels,
        annotations=ann,
        links=links,
        starts_at=optional_time(p.timestamp),
        raw=raw,
    ), limits, name="payload.summary", summary="payload.summary", labels="payload",
        annotations="payload.custom_details")
