"""The inbound formats Vigil speaks, by integration type."""

from __future__ import annotations

from vigil.integrations.alertmanager import parser as alertmanager
from vigil.integrations.base import Parser
from vigil.integrations.generic import parser as generic
from vigil.integrations.grafana import parser as grafana

#: Types whose payloads come through ``/api/v1/ingest/{type}``.
BODY_PARSERS: dict[str, Parser] = {
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "generic": generic.parse,
}

#: Every integration type, including the API-compatible ones with their own routes.
INTEGRATION_TYPES = ("alertmanager", "grafana", "generic", "pagerduty", "opsgenie")
