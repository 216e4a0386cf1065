from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

IntegrationType = Literal["alertmanager", "grafana", "generic", "pagerduty", "opsgenie"]


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    type: IntegrationType
    config: dict[str, Any] = Field(default_factory=dict)


class IntegrationRead(BaseModel):
    """An integration as anyone may read it: its key never, only the key's last
    characters (``key_hint``)."""

    id: int
    name: str
    type: str
    #: The key's last 4 characters, to tell keys apart ("…a1b2" in the UI).
    key_hint: str
    #: After a rotation with a grace period: until when the previous key still works.
    previous_key_expires_at: datetime | None
    config: dict[str, Any]
    created_at: datetime
    revoked_at: datetime | None
    last_received_at: datetime | None
    #: Where the sender posts, without the key (it goes in the path, ``?token=`` or a
    #: header; see ``key_url`` when the key is shown).
    url: str


class IntegrationWithKey(IntegrationRead):
    """The answer to creating an integration or rotating its key: the only time the key
    is shown. Vigil keeps its SHA-256 alone and cannot show it again."""

    key: str
    #: The URL with the key in it, ready for the sender (the key in its path where the
    #: format allows; otherwise the same as ``url``).
    key_url: str


class IngestedAlert(BaseModel):
    id: int | None
    fingerprint: str
    outcome: str
    status: str | None


class IngestResponse(BaseModel):
    accepted: int
    alerts: list[IngestedAlert]
