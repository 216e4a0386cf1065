"""Shared builders for the correlation-core tests (tests/incidents/test_grouping_*.py).

Inputs are built as the pipeline builds them: a batch of events goes through ``decide()`` and
its ``outcomes`` go to ``group_alerts()``. Incidents (and alerts) that already exist are given
ids, as the writer would have.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from vigil.alerts.dedup import AlertState, Decision, decide
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.core.submission import Submission
from vigil.incidents.grouping import (
    REOPEN_WINDOW,
    WINDOW,
    IncidentDecision,
    IncidentState,
    group_alerts,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
KEY = "default:7:api:HighLatency"


def ev(action: str = "trigger", *, name: str = "HighLatency", service: str | None = "api",
       instance: str = "a", severity: Severity = Severity.WARNING, summary: str = "slow",
       description: str | None = None, source: str = "alertmanager",
       starts_at: datetime | None = None) -> AlertEvent:
    labels = {"alertname": name, "service": service or "", "instance": instance}
    return AlertEvent(action=Action(action), source=source, name=name, summary=summary,
                      severity=severity, description=description, service=service,
                      labels=labels, starts_at=starts_at)


def sub(event: AlertEvent, *, tenant: int = 1, integration: int = 7) -> Submission:
    return Submission(tenant, integration, fingerprint(event, integration_id=integration),
                      event)


def run(batch: list[Submission], *, known: Iterable[IncidentState] = (),
        open_alerts: Iterable[AlertState] = (), now: datetime = NOW,
        ) -> tuple[Decision, IncidentDecision]:
    d = decide(open_alerts, batch, now)
    return d, group_alerts(known, d.outcomes, now, window=WINDOW, reopen_window=REOPEN_WINDOW)


def persist(d: Decision, inc: IncidentDecision, *, first_alert_id: int = 1,
            first_incident_id: int = 100) -> None:
    """Assign ids as the writer does, and link the new alerts to their incidents."""
    for n, alert in enumerate(d.new, first_alert_id):
        alert.id = n
    for n, incident in enumerate(inc.new, first_incident_id):
        incident.id = n
    for alert, incident in inc.links:
        alert.incident_id = incident.id


def incident(status: str = "firing", *, id: int = 100, tenant: int = 1, key: str = KEY,
             severity: Severity = Severity.WARNING, alert_count: int = 1,
             open_alert_count: int = 1, resolve_on: str = "all",
             created_at: datetime = T0, last_seen_at: datetime | None = None,
             resolved_at: datetime | None = None) -> IncidentState:
    return IncidentState(
        id=id, tenant_id=tenant, number=1, title="slow", summary="slow", status=status,
        severity=int(severity), priority=None, category=None, type="rule", assignee=None,
        team=None, services=["api"], sources=["alertmanager"], alert_count=alert_count,
        open_alert_count=open_alert_count, group_key=key, resolve_on=resolve_on,
        created_at=created_at, started_at=created_at,
        last_seen_at=last_seen_at or NOW - timedelta(minutes=1), resolved_at=resolved_at,
    )


def seeded(n_alerts: int, *, resolve_on: str = "all", status: str = "firing",
           at: datetime = NOW - timedelta(minutes=2),
           ) -> tuple[list[AlertState], IncidentState]:
    """An existing incident with ``n_alerts`` open alerts (instances a, b, ...)."""
    batch = [sub(ev(instance=chr(ord("a") + i))) for i in range(n_alerts)]
    d, inc = run(batch, now=at)
    persist(d, inc)
    (only,) = inc.new
    only.resolve_on = resolve_on
    only.status = status
    return d.new, only


def kinds(inc: IncidentDecision) -> list[str]:
    return [t.kind for t in inc.timeline]


def topics(inc: IncidentDecision) -> list[str]:
    return [o.topic for o in inc.outbox]
