"""Generic outgoing webhook: a signed JSON POST per notification.

Body: ``message.payload`` (from delivery: ``incident``, with ``resolution`` once resolved,
and ``recipient``, the username of the person paged or null) plus ``event``, ``key``,
``title``, ``severity``, ``incident_id`` and ``url`` (these win over payload keys of the
same name), as compact UTF-8 JSON. A page to a person's webhook contact method arrives with
that URL as the channel's ``url``. Headers:

* ``X-Vigil-Event``: the event (triggered, acknowledged, resolved, ...);
* ``X-Vigil-Key``: the idempotency key; a retried delivery repeats it, so receivers
  should drop a key they have already processed;
* ``X-Vigil-Timestamp``: unix seconds when this attempt was signed;
* ``X-Vigil-Signature``: ``v1=<hex>``, HMAC-SHA256 keyed with the shared secret over
  ``f"{timestamp}.{raw_body}"`` (only when a secret is configured).

Verifying (what ``verify`` does): read the raw body bytes *before* parsing JSON, compute
``hmac_sha256(secret, timestamp + "." + body)``, compare with a constant-time comparison
against each ``v1=`` value in the header (comma-separated values allow a secret
rotation), and reject if ``|now - timestamp| > 300`` seconds: the replay window. Within
the window, use ``X-Vigil-Key`` to reject replays of a delivery already processed.

``events`` subscribes to a subset of events (empty = all); see ``wants``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from typing import ClassVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from vigil.notify.base import Message, Result
from vigil.notify.channels._common import EVENTS, HttpURL, post

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_VALUE = re.compile(r"^[\x20-\x7e\t]*$")
_RESERVED = ("x-vigil-", "content-type", "content-length", "host", "transfer-encoding")


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Write-only fields and how they are shown (``notify.service.mask_config``).
    SECRETS: ClassVar[dict[str, str]] = {"url": "url", "headers": "headers", "secret": "token"}

    url: HttpURL
    headers: dict[str, str] = Field(default_factory=dict, max_length=30)
    secret: SecretStr | None = Field(default=None, min_length=16)
    #: Events to deliver; empty means all.
    events: list[str] = Field(default_factory=list)
    timeout: float = Field(default=10.0, gt=0, le=120)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, val in value.items():
            if not _TOKEN.match(name) or not _VALUE.match(val):
                raise ValueError(f"header {name!r} is not a valid HTTP header")
            if name.lower().startswith(_RESERVED):
                raise ValueError(f"header {name!r} is set by Vigil")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(EVENTS))
        if unknown:
            raise ValueError(f"unknown events {unknown}; known: {', '.join(EVENTS)}")
        return value


def sign(secret: str | bytes, timestamp: int | str, body: bytes | str) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    raw = body.encode() if isinstance(body, str) else body
    return "v1=" + hmac.new(key, f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, timestamp: int | str, body: bytes | str, signature: str,
           now: float, tolerance: float = 300) -> bool:
    """True when ``signature`` (the X-Vigil-Signature header) signs ``timestamp.body``
    with ``secret`` and ``timestamp`` is within ``tolerance`` seconds of ``now``."""
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    if abs(now - ts) > tolerance:
        return False
    expected = sign(secret, ts, body)
    candidates = [s.strip() for s in signature.split(",") if s.strip().startswith("v1=")]
    return any(hmac.compare_digest(expected, c) for c in candidates)


def header_safe(value: str) -> str:
    """ASCII header value: non-ASCII (and control) characters percent-encoded."""
    return quote(value, safe="".join(chr(c) for c in range(0x21, 0x7f) if chr(c) != "%"))


def body_of(message: Message) -> bytes:
    data = {**message.payload, "event": message.event, "key": message.key,
            "title": message.title, "severity": message.severity,
            "incident_id": message.incident_id, "url": message.url}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class WebhookChannel:
    kind = "webhook"

    def __init__(self, config: WebhookConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock

    def wants(self, event: str) -> bool:
        return not self.config.events or event in self.config.events

    def send(self, message: Message) -> Result:
        if not self.wants(message.event):
            return Result(ok=True, detail=f"not subscribed to {message.event!r}; skipped")
        body = body_of(message)
        ts = int(self.clock())
        headers = {**self.config.headers, "Content-Type": "application/json",
                   "X-Vigil-Event": header_safe(message.event),
                   "X-Vigil-Key": header_safe(message.key),
                   "X-Vigil-Timestamp": str(ts)}
        if self.config.secret is not None:
            headers["X-Vigil-Signature"] = sign(self.config.secret.get_secret_value(), ts, body)
        return post(self.config.url, content=body, headers=headers,
                    timeout=self.config.timeout)
