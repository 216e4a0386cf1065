"""Grafana alerting webhook (contact point type "webhook", payload version 1).

The same shape as Alertmanager's, plus ``state``, ``title``, ``message`` and per-alert
``values``, ``valueString``, ``dashboardURL``, ``panelURL``, ``silenceURL``, ``imageURL``.
A payload of another ``version`` is refused (422 naming it); one without is read as 1.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from vigil.core.event import AlertEvent
from vigil.integrations.alertmanager.parser import (
    AMAlert,
    AMPayload,
    check_alert_count,
    check_version,
    event_from_alert,
)
from vigil.integrations.base import DEFAULT_LIMITS, Limits, check_length, invalid_from, link

#: The webhook payload version Vigil reads.
VERSION = "1"


class GrafanaAlert(AMAlert):
    model_config = ConfigDict(extra="ignore")

    values: dict[str, float | int | None] | None = None
    valueString: str | None = None
    dashboardURL: str | None = None
    panelURL: str | None = None
    silenceURL: str | None = None
    imageURL: str | None = None


class GrafanaPayload(AMPayload):
    version: object = None  # checked in ``parse``
    state: str | None = None
    title: str | None = None
    message: str | None = None
    orgId: int | None = None
    alerts: list[GrafanaAlert] = Field(min_length=1)  # type: ignore[assignment]


def parse(payload: Any, config: dict[str, Any],
          limits: Limits = DEFAULT_LIMITS) -> list[AlertEvent]:
    check_alert_count(payload, limits)
    try:
        body = GrafanaPayload.model_validate(payload)
    except ValidationError as exc:
        raise invalid_from(exc) from None
    check_version(body.version, VERSION, "Grafana")
    raws = payload["alerts"]
    events = []
    for i, a in enumerate(body.alerts):
        extra = (
            link(a.dashboardURL, "Dashboard")
            + link(a.panelURL, "Panel")
            + link(a.silenceURL, "Silence in Grafana")
            + link(a.imageURL, "Image")
        )
        if a.valueString:
            # Held to the limits with the annotations, but named as what it is.
            check_length(a.valueString, f"alerts[{i}].valueString",
                         limits.ingest_max_description_chars, "ingest_max_description_chars")
            a.annotations = {**a.annotations, "value": a.valueString}
        events.append(event_from_alert(a, "grafana", raws[i], extra, f"alerts[{i}]", limits))
    return events
