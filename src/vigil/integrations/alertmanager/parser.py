"""Prometheus Alertmanager webhook, payload version 4.

One event per ``alerts[]`` entry. The identity is the alert's full label set (the same
data Alertmanager's own ``fingerprint`` hashes, here with SHA-256), so an HA pair of
Alertmanagers, or a group re-sent every ``group_interval``, dedups to one alert.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.integrations.base import UTCTime, invalid_from, link, optional_time, str_map, text
from vigil.pipeline.event import Action, AlertEvent, parse_severity

LabelMap = dict[str, str]


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

    version: str | None = None
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
                     extra_links: list[dict[str, str]]) -> AlertEvent:
    labels = alert.labels
    ann = alert.annotations
    name = labels.get("alertname") or ann.get("summary") or "alert"
    summary = ann.get("summary") or ann.get("message") or ann.get("description") or name
    return AlertEvent(
        action=Action.RESOLVE if alert.status == "resolved" else Action.TRIGGER,
        source=source,
        name=text(name, 512),
        summary=text(summary, 4000),
        severity=parse_severity(labels.get("severity") or labels.get("priority")),
        description=ann.get("description"),
        service=_service(labels),
        environment=_environment(labels),
        labels=labels,
        annotations=ann,
        links=link(alert.generatorURL, "Source")
        + link(ann.get("runbook_url"), "Runbook")
        + link(ann.get("dashboard_url") or ann.get("dashboard"), "Dashboard")
        + extra_links,
        starts_at=optional_time(alert.startsAt),
        ends_at=optional_time(alert.endsAt) if alert.status == "resolved" else None,
        raw=raw,
    )


def parse(payload: Any, config: dict[str, Any]) -> list[AlertEvent]:
    try:
        body = AMPayload.model_validate(payload)
    except ValidationError as exc:
        raise invalid_from(exc) from None
    raws = payload["alerts"]
    return [
        event_from_alert(a, "alertmanager", raws[i], []) for i, a in enumerate(body.alerts)
    ]


__all__ = ["AMAlert", "AMPayload", "event_from_alert", "parse", "str_map"]
