"""Signed action links: acknowledge or resolve an incident from a notification without
signing in. A token names one incident, one action and (since tokens are signed per
recipient) the person it was sent to, and expires; it is an HMAC-SHA256 over those under a
secret Vigil makes for itself on first use and stores encrypted (``secrets_at_rest``).

Token: ``<incident>.<action>.<expires>[.<recipient, base64url>].<mac>``. Tokens signed
before recipients were added have no recipient part and stay valid (their action is
recorded as by ``link``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.errors import NotFound

ACTIONS = ("acknowledge", "resolve")
LIFETIME = timedelta(hours=24)


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).decode().rstrip("=")


def _encode(recipient: str) -> str:
    return base64.urlsafe_b64encode(recipient.encode()).decode().rstrip("=")


def _decode(part: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def sign(key: bytes, incident_id: int, action: str, now: datetime,
         lifetime: timedelta = LIFETIME, recipient: str | None = None) -> str:
    """A token for ``action`` on the incident; ``recipient`` (a username) is who the link
    is sent to, and whom the action is recorded as by."""
    if action not in ACTIONS:
        raise ValueError(f"no such action {action!r}")
    body = f"{incident_id}.{action}.{int((now + lifetime).timestamp())}"
    if recipient:
        body += f".{_encode(recipient)}"
    return f"{body}.{_mac(key, body)}"


@dataclass(frozen=True, slots=True)
class Action:
    """What a valid token allows: ``action`` on ``incident_id``, sent to ``recipient`` (a
    username; None for links sent to no one in particular and for older tokens)."""

    incident_id: int
    action: str
    recipient: str | None = None


def read(key: bytes, token: str, now: datetime) -> Action:
    """The action a valid token allows; NotFound for any other (a bad link says no more
    than that it is not valid)."""
    parts = token.split(".")
    if len(parts) not in (4, 5):
        raise NotFound("this link is not valid", field="token")
    *signed, mac = parts
    incident, action, expires = signed[:3]
    if not hmac.compare_digest(mac, _mac(key, ".".join(signed))) or action not in ACTIONS \
            or not incident.isdigit():
        raise NotFound("this link is not valid", field="token")
    recipient = _decode(signed[3]) if len(signed) == 4 else None
    if len(signed) == 4 and not recipient:
        raise NotFound("this link is not valid", field="token")
    if not expires.isdigit() or int(expires) < now.timestamp():
        raise NotFound("this link has expired; open the incident in Vigil", field="token")
    return Action(int(incident), action, recipient)


def verify(key: bytes, token: str, now: datetime) -> tuple[int, str]:
    """(incident id, action) of a valid token (see ``read``)."""
    found = read(key, token, now)
    return found.incident_id, found.action
