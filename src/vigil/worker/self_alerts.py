"""Vigil's alerts about itself, built from what the background passes return (never read
from a mailbox): a delivery that died raises ``NotificationFailed`` (one per channel kind),
an outbox event a consumer parked or a consumer's work that failed ``VigilConsumerFailed``
(one per consumer). The loops submit them through the pipeline like any alert."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.core.submission import Submission
from vigil.notify import delivery
from vigil.outbox.consumer import Parked
from vigil.outbox.schedule import Failure, Ran


def _vigil_alert(tenant_id: int, name: str, summary: str, severity: Severity,
                 labels: dict[str, str]) -> Submission:
    ev = AlertEvent(action=Action.TRIGGER, source="vigil", name=name, summary=summary,
                    severity=severity, service="vigil",
                    labels={"alertname": name, "service": "vigil", **labels})
    return Submission(tenant_id, None, fingerprint(ev, integration_id=0), ev)


def delivery_alert(d: delivery.Dead) -> Submission:
    return _vigil_alert(d.tenant_id, "NotificationFailed",
                        f"Vigil could not deliver a {d.channel_kind} notification: "
                        f"{d.last_error[:300]}", Severity.HIGH, {"channel": d.channel_kind})


def parked_alert(p: Parked) -> Submission:
    where = f" of INC {p.incident_id}" if p.incident_id else ""
    return _vigil_alert(
        p.tenant_id, "VigilConsumerFailed",
        f"Vigil's {p.consumer} consumer set aside {p.topic} event {p.event_id}{where} after "
        f"repeated failures; replay it with `vigil outbox replay` once fixed: "
        f"{p.error[:300]}", Severity.CRITICAL, {"consumer": p.consumer})


def failure_alert(f: Failure) -> Submission:
    where = f" of incident {f.incident_id}" if f.incident_id is not None else ""
    return _vigil_alert(f.tenant_id, "VigilConsumerFailed",
                        f"Vigil could not {f.what}{where}: {f.error}", Severity.CRITICAL,
                        {"consumer": f.consumer})


def self_alerts(ran: Ran | None = None, dead: Sequence[delivery.Dead] = ()
                ) -> list[Submission]:
    """The one list of self-alerts for what a pass returned."""
    alerts = [parked_alert(p) for p in ran.parked] if ran is not None else []
    alerts += [failure_alert(f) for f in ran.failed] if ran is not None else []
    return alerts + [delivery_alert(d) for d in dead]
