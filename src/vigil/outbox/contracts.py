"""One payload contract per outbox topic, shared by every producer and consumer.

Producers build payloads as these ``TypedDict`` types, so mypy checks each key and type
where the event is written; consumers validate what they read with the same types
(``validate``), so a payload that breaks its contract fails loudly on that one event,
which the consumer then retries and parks (``outbox.consumer``) instead of misreading it.

A topic's contract only grows: a new key is ``NotRequired`` so that events already in the
outbox still validate.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import ConfigDict, TypeAdapter, with_config
from typing_extensions import TypedDict

IncidentStatus = Literal["firing", "acknowledged", "investigating", "resolved", "closed",
                         "merged", "deleted"]
AlertStatus = Literal["firing", "acknowledged", "resolved", "suppressed"]
SeverityLabel = Literal["low", "info", "warning", "high", "critical"]

_STRICT = ConfigDict(extra="forbid")


@with_config(_STRICT)
class IncidentBefore(TypedDict, total=False):
    """The incident as it was before the change (empty for a new incident). Changes made
    by people snapshot the fields they may change; changes made by alerts, the counts."""

    status: IncidentStatus
    severity: SeverityLabel
    priority: str | None
    assignee: str | None
    team: str | None
    title: str
    category: str | None
    noise: bool
    alert_count: int
    open_alert_count: int


@with_config(_STRICT)
class IncidentFacts(TypedDict):
    """What correlation knows of an incident before it has its id and number."""

    status: IncidentStatus
    severity: SeverityLabel
    title: str
    previous: IncidentBefore
    actor: str
    kind: str
    team: NotRequired[str | None]
    assignee: NotRequired[str | None]
    priority: NotRequired[str | None]
    category: NotRequired[str | None]
    noise: NotRequired[bool]
    services: NotRequired[list[str]]
    alert_count: NotRequired[int]
    escalation_policy: NotRequired[str | None]


class IncidentChange(IncidentFacts):
    """``incident.created``, ``incident.candidate``, ``incident.updated``,
    ``incident.status_changed``, ``incident.assigned``, ``incident.merged``."""

    incident_id: int
    number: int | None


@with_config(_STRICT)
class NotificationIntent(TypedDict):
    """``notification.intent``: someone is to be told something by one channel. Written by
    the escalation engine (pages) and handoff notices; planned into deliveries."""

    key: str
    incident_id: int | None
    user: str | None
    channel: str
    address: str
    urgency: str
    target_kind: str
    target: str
    number: NotRequired[int | None]
    step: NotRequired[int]
    repeat: NotRequired[int]
    epoch: NotRequired[int]
    due_at: NotRequired[str]
    #: A notice with its own words (handoffs, reminders), instead of an incident template.
    event: NotRequired[str]
    title: NotRequired[str]
    text: NotRequired[str]


@with_config(_STRICT)
class AlertChange(TypedDict):
    """``alert.*`` (only with ``VIGIL_OUTBOX_ALERT_EVENTS``)."""

    alert_id: int
    fingerprint: str
    status: AlertStatus
    severity: SeverityLabel
    name: str
    service: str | None
    occurrences: int
    muted_by: NotRequired[str]


INCIDENT_TOPICS = ("incident.created", "incident.candidate", "incident.updated",
                   "incident.status_changed", "incident.assigned", "incident.merged")
ALERT_TOPICS = ("alert.created", "alert.repeated", "alert.acknowledged", "alert.resolved",
                "alert.suppressed", "alert.unsuppressed")
INTENT = "notification.intent"

#: Every topic and its contract.
CONTRACTS: dict[str, type[Any]] = {
    **dict.fromkeys(INCIDENT_TOPICS, IncidentChange),
    **dict.fromkeys(ALERT_TOPICS, AlertChange),
    INTENT: NotificationIntent,
}

_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {t: TypeAdapter(t) for t in
                                                set(CONTRACTS.values())}


class ContractError(ValueError):
    """A payload that does not keep its topic's contract."""


def validate(topic: str, payload: Any) -> Any:
    """The payload checked against its topic's contract (a plain dict; raises
    ``ContractError`` naming the topic and what is wrong)."""
    contract = CONTRACTS.get(topic)
    if contract is None:
        raise ContractError(f"no contract for outbox topic {topic!r}")
    try:
        return _ADAPTERS[contract].validate_python(payload, strict=True)
    except ValueError as exc:
        raise ContractError(f"{topic} payload breaks its contract: {exc}") from exc
