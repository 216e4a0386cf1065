"""Forward incidents to PagerDuty with the Events API v2 (``POST {base_url}/v2/enqueue``).

Event actions follow ``message.event``: acknowledged -> ``acknowledge``, resolved ->
``resolve``, everything else (triggered, escalated, reminder, test) -> ``trigger``. The
``dedup_key`` is ``vigil-<incident_id>`` so PagerDuty folds every event of one Vigil
incident into one PagerDuty alert (re-triggers are deduplicated there); without an
incident id the message key is used. provider_id is the dedup_key PagerDuty echoes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from vigil.notify.base import Message, Result
from vigil.notify.channels._common import (
    HttpURL,
    json_field,
    one_line,
    post,
    titled,
    trim,
)

SEVERITY = {"critical": "critical", "high": "error", "warning": "warning", "info": "info",
            "low": "info"}
ACTIONS = {"acknowledged": "acknowledge", "resolved": "resolve"}


class PagerDutyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Write-only fields and how they are shown (``notify.service.mask_config``).
    SECRETS: ClassVar[dict[str, str]] = {"routing_key": "token", "base_url": "url"}

    #: The integration key of an Events API v2 integration (32 characters).
    routing_key: SecretStr = Field(min_length=32, max_length=32)
    base_url: HttpURL = "https://events.pagerduty.com"
    #: ``payload.source``: where the problem is; ``message.fields["service"]`` wins.
    source: str = Field(default="vigil", min_length=1, max_length=255)
    timeout: float = Field(default=10.0, gt=0, le=120)


def dedup_key(message: Message) -> str:
    return f"vigil-{message.incident_id}" if message.incident_id is not None else message.key


def event(config: PagerDutyConfig, message: Message) -> dict[str, Any]:
    action = ACTIONS.get(message.event, "trigger")
    body: dict[str, Any] = {"routing_key": config.routing_key.get_secret_value(),
                            "event_action": action, "dedup_key": dedup_key(message)}
    if action != "trigger":
        return body
    details: dict[str, Any] = {**message.fields, "event": message.event}
    if message.text:
        details["text"] = trim(message.text, 8000)
    if message.incident_number is not None:
        details["incident_number"] = message.incident_number
    if message.url:
        details["vigil_url"] = message.url
    body["payload"] = {
        "summary": trim(one_line(titled(message)), 1024),
        "severity": SEVERITY.get(message.severity, "warning"),
        "source": message.fields.get("service") or config.source,
        "custom_details": details,
    }
    if svc := message.fields.get("service"):
        body["payload"]["component"] = svc
    body["client"] = "Vigil"
    if message.url:
        body["client_url"] = message.url
        body["links"] = [{"href": message.url, "text": "Vigil incident"}]
    return body


class PagerDutyChannel:
    kind = "pagerduty"

    def __init__(self, config: PagerDutyConfig) -> None:
        self.config = config

    def send(self, message: Message) -> Result:
        url = self.config.base_url.rstrip("/") + "/v2/enqueue"
        return post(url, json=event(self.config, message), timeout=self.config.timeout,
                    ident=json_field("dedup_key"))
