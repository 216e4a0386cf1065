"""Prometheus Alertmanager webhook, payload version 4.

One event per ``alerts[]`` entry. The identity is the alert's full label set (the same
data Alertmanager's own ``fingerprint`` hashes, here with SHA-256), so an HA pair of
Alertmanagers, or a group re-sent every ``group_interval``, dedups to one alert; with its
``startsAt``, which tells a re-sent old notification from the alert firing anew (see
``alerts.dedup``). A payload of another ``version`` is refused (422 naming it); one
without a version is read as version 4.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.core.event import Action, AlertEvent
from vigil.core.severity import parse_severity
from vigil.errors import InvalidInput
from vigil.integrations.base import (
    DEFAULT_LIMITS,
    Limits,
    UTCTime,
    check_count,
    check_event,
    invalid_from,
    link,
    optional_time,
    str_map,
)

LabelMap = dict[str, str]

#: The webhook payload version Vigil reads.
VERSION = "4"


def check_version(version: object, expected: str, sender: str) -> None:
    """A payload's ``version``: absent (or null) is accepted, any other than ``expected``
    is a 422 naming it (a format Vigil does not know is not guessed at)."""
    if version is not None and version != expected:
        raise InvalidInput(f"version: {sender} webhook payload version {version!r} is not "
                           f"supported; Vigil reads version {expected!r}", field="version")


class AMAlert(BaseModel):
    # Unknown fields are ignored here and kept whole in the alert's raw payload.
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: LabelMap = Field(min_length=1)
    annotations: LabelMap = Field(default_factory=dict)
    startsAt: UTCTime | None = None
    endsAt: UTCTime | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class AMPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: object = None  # checked in ``parse``, for a message that names it
    groupKey: str | None = None
    status: str | None = None
    receiver: str | None = None
    externalURL: str | None = None
    commonLabels: LabelMap = Field(default_factory=dict)
    alerts: list[AMAlert] = Field(min_length=1)


def _service(labels: LabelMap) -> str | None:
    for key in ("service", "app", "application", "job"):
        if labels.get(key):
            return labels[key]
    return None


def _environment(labels: LabelMap) -> str | None:
    for key in ("env", "environment", "stage"):
        if labels.get(key):
            return labels[key]
    return None


def event_from_alert(alert: AMAlert, source: str, raw: dict[str, Any],
                     extra_links: list[dict[str, str]], where: str,
                     limits: Limits = DEFAULT_LIMITS) -> AlertEvent:
    """The event for one alert, held to ``limits`` (a 422 naming ``where``'s field)."""
    labels, ann = alert.labels, alert.annotations
    name = labels.get("alertname")
    name_field = "labels.alertname" if name else None
    if not name:
        name = ann.get("summary") or "alert"
    summary = ann.get("summary")
    summary_field = "annotations.summary" if summary else None
    if not summary:
        summary = ann.get("message") or ann.get("description") or name
    links = link(alert.generatorURL, "Source")
    if ann:
        links += link(ann.get("runbook_url"), "Runbook") + link(
            ann.get("dashboard_url") or ann.get("dashboard"), "Dashboard")
    resolved = alert.status == "resolved"
    event = AlertEvent(
        action=Action.RESOLVE if resolved else Action.TRIGGER,
        source=source,
        name=name,
        summary=summary,
        severity=parse_severity(labels.get("severity") or labels.get("priority")),
        description=ann.get("description"),
        service=_service(labels),
        environment=_environment(labels),
        labels=labels,
        annotations=ann,
        links=links + extra_links,
        starts_at=optional_time(alert.startsAt),
        ends_at=optional_time(alert.endsAt) if resolved else None,
        raw=raw,
    )
    return check_event(event, limits, where, name=name_field, summary=summary_field,
                       description="annotations.description")


def check_alert_count(payload: Any, limits: Limits) -> None:
    """Too many alerts is refused before any is validated."""
    if isinstance(payload, dict):
        alerts = payload.get("alerts")
        if isinstance(alerts, list):
            check_count(alerts, "alerts", limits)


def parse(payload: Any, config: dict[str, Any],
          limits: Limits = DEFAULT_LIMITS) -> list[AlertEvent]:
    check_alert_count(payload, limits)
    try:
        body = AMPayload.model_validate(payload)
    except ValidationError as exc:
        raise invalid_from(exc) from None
    check_version(body.version, VERSION, "Alertmanager")
    raws = payload["alerts"]
    return [event_from_alert(a, "alertmanager", raws[i], [], f"alerts[{i}]", limits)
            for i, a in enumerate(body.alerts)]


__all__ = ["AMAlert", "AMPayload", "check_alert_count", "check_version", "event_from_alert",
           "parse", "str_map"]
