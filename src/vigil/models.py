"""Imports every domain's models so that ``Base.metadata`` knows all tables."""

from vigil.alerts.models import Alert, AlertEventRecord
from vigil.audit.models import AuditEntry
from vigil.auth.models import ApiKey, AppSecret, User
from vigil.configstate.models import ConfigVersion
from vigil.correlation.models import CorrelationRule
from vigil.db import Base
from vigil.incidents.models import Incident, IncidentEvent, IncidentPolicy
from vigil.integrations.models import Integration
from vigil.muting.models import FlapRecord, InhibitionRule, MaintenanceWindow, Silence
from vigil.notify.models import Delivery, NotificationChannel, RoutingRule, TemplateOverride
from vigil.oncall.models import (
    ContactMethod,
    Escalation,
    EscalationPolicyRow,
    NotificationRule,
    ScheduleRow,
    Service,
    Team,
)
from vigil.outbox.models import OutboxCursor, OutboxEvent, OutboxFailure
from vigil.tenants.models import Tenant

__all__ = [
    "Alert",
    "AlertEventRecord",
    "ApiKey",
    "AppSecret",
    "AuditEntry",
    "Base",
    "ConfigVersion",
    "ContactMethod",
    "CorrelationRule",
    "Delivery",
    "Escalation",
    "EscalationPolicyRow",
    "FlapRecord",
    "Incident",
    "IncidentEvent",
    "IncidentPolicy",
    "InhibitionRule",
    "Integration",
    "MaintenanceWindow",
    "NotificationChannel",
    "NotificationRule",
    "OutboxCursor",
    "OutboxEvent",
    "OutboxFailure",
    "RoutingRule",
    "ScheduleRow",
    "Service",
    "Silence",
    "Team",
    "TemplateOverride",
    "Tenant",
    "User",
]
