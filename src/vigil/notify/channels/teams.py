"""Microsoft Teams by incoming webhook or Power Automate Workflows URL: one Adaptive Card
(schema 1.4) per notification, POSTed as a ``message`` with one attachment.

Classic Office 365 connector webhooks answer 200 with body ``1``; Workflows answer 202.
Classic connectors have been seen to answer HTTP 200 with a body reporting the upstream
throttling ("... returned HTTP error 429 ..."): that is treated as retryable, not ok.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from vigil.notify.base import Message, Result
from vigil.notify.channels._common import HttpURL, Reply, error_text, post, titled, trim

_COLORS = {"critical": "Attention", "high": "Attention", "warning": "Warning",
           "info": "Accent", "low": "Default"}


class TeamsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Write-only fields and how they are shown (``notify.service.mask_config``).
    SECRETS: ClassVar[dict[str, str]] = {"webhook_url": "url"}

    webhook_url: HttpURL
    timeout: float = Field(default=10.0, gt=0, le=120)


def card(message: Message) -> dict[str, Any]:
    facts = [{"title": "Severity", "value": message.severity},
             {"title": "Event", "value": message.event}]
    if message.incident_number is not None:
        facts.append({"title": "Incident", "value": f"INC-{message.incident_number}"})
    facts += [{"title": k, "value": trim(v, 500)} for k, v in message.fields.items()]
    color = "Good" if message.event == "resolved" else _COLORS.get(message.severity, "Default")
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": trim(titled(message), 300), "size": "Medium",
         "weight": "Bolder", "color": color, "wrap": True},
    ]
    if message.text:
        body.append({"type": "TextBlock", "text": trim(message.text, 3000), "wrap": True})
    body.append({"type": "FactSet", "facts": facts})
    actions = [{"type": "Action.OpenUrl", "title": title, "url": url}
               for title, url in (("Acknowledge", message.ack_url),
                                  ("Resolve", message.resolve_url),
                                  ("View incident", message.url)) if url]
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard", "version": "1.4", "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        content["actions"] = actions
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": content}]}


class TeamsChannel:
    kind = "teams"

    def __init__(self, config: TeamsConfig) -> None:
        self.config = config

    def send(self, message: Message) -> Result:
        seen: dict[str, str] = {}

        def body_of(resp: Reply) -> str | None:
            seen["text"] = error_text(resp)
            return None

        result = post(self.config.webhook_url, json=card(message), timeout=self.config.timeout,
                      ident=body_of)
        if result.ok and "HTTP error 429" in seen.get("text", ""):
            return Result(ok=False, retryable=True, detail=f"throttled: {seen['text']}")
        return result
