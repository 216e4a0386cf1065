"""Security headers on every answer: a pure ASGI middleware (no Request objects, no body
buffering) that adds headers to the ``http.response.start`` message.

Every answer gets ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and
``Referrer-Policy: same-origin``. HTML answers (the UI under /ui, /login, /setup, the
one-click action pages /a/{token}, error pages) also get a Content-Security-Policy: scripts
only from Vigil's own origin (the templates have no inline script or event handler; their
JavaScript is in /static), no plugins, no framing, forms and ``<base>`` only to this origin.
Inline *styles* are allowed: the templates and the server-drawn SVG charts use ``style``
attributes, which a nonce cannot cover, and a style cannot run code.

A header the endpoint set itself is kept. FastAPI's own API docs (/docs, /redoc) load
their scripts from a CDN and get no CSP.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)

_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
_HTML = (*_ALWAYS, (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))


class SecurityHeaders:
    """Adds the headers above to every HTTP answer of ``app``; ``no_csp``: paths whose
    HTML answers get no Content-Security-Policy (FastAPI's API docs)."""

    def __init__(self, app: ASGIApp, no_csp: Iterable[str | None] = ()) -> None:
        self.app = app
        self.no_csp = frozenset(p for p in no_csp if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = scope["path"] not in self.no_csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                html = csp and any(
                    name.lower() == b"content-type" and value.lower().startswith(b"text/html")
                    for name, value in headers)
                headers.extend(h for h in (_HTML if html else _ALWAYS) if h[0] not in names)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
