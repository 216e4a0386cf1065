"""The HTTP server's edge: uvicorn, with a deadline for reading each request.

uvicorn closes a keep-alive connection that stays idle between requests, but a client that
sends half a request line, a few header bytes, or a body a byte at a time keeps its
connection (and a slot of the server) open as long as it likes. Here every request must
arrive whole, headers and body, within ``read_timeout`` seconds of its first byte (or of
the connection opening); otherwise the connection is closed. The time the application
takes to answer is not counted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


class ReadDeadlineProtocol(HttpToolsProtocol):
    """httptools' protocol with a deadline from a request's first byte to its last."""

    read_timeout: float = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(self.read_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _too_slow(self) -> None:
        self._read_deadline = None
        if not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            log.warning("closed the connection of %s: no whole request in %.0f s",
                        client, self.read_timeout)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()


def protocol(read_timeout: float) -> type[ReadDeadlineProtocol]:
    """The protocol class for one server, its deadline set."""
    return type("VigilHttpProtocol", (ReadDeadlineProtocol,), {"read_timeout": read_timeout})


def run(app: Any, *, host: str, port: int, read_timeout: float) -> None:
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                lifespan="on", http=protocol(read_timeout))
