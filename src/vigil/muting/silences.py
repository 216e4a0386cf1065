"""Muting: which of a batch's triggers an active silence covers. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigil.core.event import Action, AlertEvent
from vigil.core.submission import Submission
from vigil.muting.matchers import Matcher, all_match


@dataclass(frozen=True, slots=True)
class ActiveSilence:
    id: int
    tenant_id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime


def mute_labels(ev: AlertEvent) -> dict[str, str]:
    """The labels silences match: the alert's own, over its name, service, environment and
    severity (so a silence can say ``service=db`` for any source)."""
    labels = {"alertname": ev.name, "severity": ev.severity.label}
    if ev.service:
        labels["service"] = ev.service
    if ev.environment:
        labels["environment"] = ev.environment
    labels.update(ev.labels)
    return labels


def muted(silences: list[ActiveSilence], batch: list[Submission]) -> dict[int, int]:
    """Index in ``batch`` -> the id of the silence that mutes that trigger."""
    out: dict[int, int] = {}
    if not silences:
        return out
    for i, sub in enumerate(batch):
        if sub.event.action is not Action.TRIGGER:
            continue
        labels = mute_labels(sub.event)
        for s in silences:
            if s.tenant_id == sub.tenant_id and all_match(s.matchers, labels):
                out[i] = s.id
                break
    return out
