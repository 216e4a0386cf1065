"""What every channel adapter takes and gives back. Adapters do I/O only: rendering,
routing, retries and the delivery log live around them (``notify.delivery``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One notification, already rendered. ``key`` is the idempotency key (adapters pass it
    on where the provider deduplicates: PagerDuty ``dedup_key``, webhook header, ...)."""

    key: str
    event: str  # triggered | acknowledged | escalated | resolved | reminder | test
    title: str
    text: str  # plain text body
    html: str = ""  # HTML body (email)
    severity: str = "warning"
    urgency: str = "high"
    incident_id: int | None = None
    incident_number: int | None = None
    url: str = ""  # the incident page
    ack_url: str = ""  # signed, expiring links that work without signing in
    resolve_url: str = ""
    address: str = ""  # the recipient: an email address, phone number, channel, URL, ...
    fields: dict[str, str] = field(default_factory=dict)  # key labels etc. to show
    payload: dict[str, Any] = field(default_factory=dict)  # the structured event (webhooks)
    #: Set when the same conversation was posted before (Slack ts, ...): update or thread.
    thread: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    ok: bool
    #: Worth retrying (timeouts, connection errors, 5xx, 429); False for permanent failures.
    retryable: bool = False
    retry_after: float | None = None  # seconds, from the provider's Retry-After
    provider_id: str | None = None  # message id, Slack ts, Twilio SID, ...
    detail: str = ""


class Channel(Protocol):
    """An adapter: built from its stored config (validated by ``validate``), sends one
    message. ``send`` never raises for delivery problems: it returns a Result."""

    kind: str

    def send(self, message: Message) -> Result: ...
