"""Channels that deliver to sinks the tests read: the mail a real SMTP server (the ``smtp``
fixture in conftest) received."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

from conftest import Harness


class Sink:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def channel(h: Harness, **body: Any) -> dict[str, Any]:
    resp = h.client.post("/api/v1/channels", headers=h.auth, json=body)
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def email_channel(h: Harness, port: int) -> dict[str, Any]:
    return channel(h, name="smtp", kind="email", personal=True,
                   config={"smtp_host": "127.0.0.1", "smtp_port": port, "security": "none",
                           "from_address": "vigil@example.com"})
