"""What the sessions API answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SessionRead(BaseModel):
    id: int
    user_id: int
    username: str
    created_at: datetime
    last_seen_at: datetime
    #: Absolute expiry (sign-in + 12 h).
    expires_at: datetime
    #: When it ends if unused: the earlier of ``expires_at`` and last seen + 2 h.
    idle_expires_at: datetime
    revoked_at: datetime | None
    address: str | None
    user_agent: str | None
    #: Neither revoked nor expired.
    active: bool
    #: The session this request came with.
    current: bool


class SessionsRevoked(BaseModel):
    revoked: int
