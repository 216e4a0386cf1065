"""Which rows the audit log follows, and how a channel's secrets are masked in it. The
``audit`` package knows no domain (the domains use it: sign-ins are audited, requests name
their actor); the composition roots (the app, the CLI) install this."""

from __future__ import annotations

from typing import Any

from vigil.audit import capture, masking
from vigil.auth.models import ApiKey, User
from vigil.correlation.models import CorrelationRule
from vigil.incidents.models import IncidentPolicy
from vigil.integrations.models import Integration
from vigil.muting.models import InhibitionRule, MaintenanceWindow, Silence
from vigil.notify.models import NotificationChannel, RoutingRule, TemplateOverride
from vigil.notify.service import mask_config
from vigil.oncall.models import (
    ContactMethod,
    EscalationPolicyRow,
    NotificationRule,
    ScheduleRow,
    Service,
    Team,
)

#: Configuration rows and the target type their entries name.
TARGETS: dict[type[Any], str] = {
    Silence: "silence", MaintenanceWindow: "maintenance_window",
    InhibitionRule: "inhibition_rule", CorrelationRule: "correlation_rule",
    IncidentPolicy: "incident_policy", NotificationChannel: "channel",
    RoutingRule: "routing_rule", TemplateOverride: "notification_template",
    Integration: "integration", EscalationPolicyRow: "escalation_policy",
    ScheduleRow: "schedule", Team: "team", Service: "service", User: "user",
    ContactMethod: "contact_method", NotificationRule: "notification_rule",
    ApiKey: "api_key",
}


def install() -> None:
    """Log changes to ``TARGETS`` made through any session of this process."""
    masking.CONFIG_MASKS["channel"] = mask_config
    capture.install(TARGETS)
