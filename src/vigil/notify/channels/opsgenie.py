"""Forward incidents to Opsgenie with the Alert API v2.

triggered/escalated/reminder/test create an alert (``POST {base_url}/v2/alerts``) with
alias ``vigil-<incident_id>``: Opsgenie deduplicates on the alias, so repeats bump the
count of the open alert. acknowledged and resolved call
``POST /v2/alerts/{alias}/acknowledge|close?identifierType=alias``. Authentication is
``Authorization: GenieKey <api_key>``. Opsgenie answers 202 with a ``requestId`` (the
provider_id); the request itself is processed asynchronously.

EU accounts use ``base_url = "https://api.eu.opsgenie.com"``.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

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

PRIORITY = {"critical": "P1", "high": "P2", "warning": "P3", "info": "P4", "low": "P5"}
CLOSING = {"acknowledged": "acknowledge", "resolved": "close"}


class OpsgenieConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Write-only fields and how they are shown (``notify.service.mask_config``).
    SECRETS: ClassVar[dict[str, str]] = {"api_key": "token", "base_url": "url"}

    api_key: SecretStr = Field(min_length=8)
    base_url: HttpURL = "https://api.opsgenie.com"
    #: Teams to route to by name, e.g. ["ops"].
    responders: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=20)
    timeout: float = Field(default=10.0, gt=0, le=120)


def alias(message: Message) -> str:
    return f"vigil-{message.incident_id}" if message.incident_id is not None else message.key


def create_body(config: OpsgenieConfig, message: Message) -> dict[str, Any]:
    details = {k: trim(v, 8000) for k, v in message.fields.items()}
    details["vigil_event"] = message.event
    if message.url:
        details["vigil_url"] = message.url
    body: dict[str, Any] = {
        "message": trim(one_line(titled(message)), 130),
        "alias": trim(alias(message), 512),
        "priority": PRIORITY.get(message.severity, "P3"),
        "source": "Vigil",
        "details": details,
        "tags": [*config.tags, message.severity],
    }
    if message.text:
        body["description"] = trim(message.text, 15000)
    if svc := message.fields.get("service"):
        body["entity"] = trim(svc, 512)
    if config.responders:
        body["responders"] = [{"type": "team", "name": n} for n in config.responders]
    return body


class OpsgenieChannel:
    kind = "opsgenie"

    def __init__(self, config: OpsgenieConfig) -> None:
        self.config = config

    def send(self, message: Message) -> Result:
        base = self.config.base_url.rstrip("/") + "/v2/alerts"
        headers = {"Authorization": f"GenieKey {self.config.api_key.get_secret_value()}"}
        action = CLOSING.get(message.event)
        if action is None:
            return post(base, json=create_body(self.config, message), headers=headers,
                        timeout=self.config.timeout, ident=json_field("requestId"))
        note = trim(one_line(f"{message.event} in Vigil: {message.title}"), 25000)
        return post(f"{base}/{quote(alias(message), safe='')}/{action}",
                    params={"identifierType": "alias"}, headers=headers,
                    json={"source": "Vigil", "note": note}, timeout=self.config.timeout,
                    ident=json_field("requestId"))
