"""An alert on its way in: the event, whose it is, and its dedup identity."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.core.event import AlertEvent


@dataclass(slots=True)
class Submission:
    tenant_id: int
    integration_id: int | None
    fingerprint: str
    event: AlertEvent
