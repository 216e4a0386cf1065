"""Channels, routing rules and template overrides: validated when saved."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.notify import templates
from vigil.notify.models import NotificationChannel, RoutingRule, TemplateOverride

Event = Literal["triggered", "acknowledged", "escalated", "resolved", "reminder"]
SeverityName = Literal["critical", "high", "warning", "info", "low"]


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=32)
    config: dict[str, Any] = Field(default_factory=dict)
    personal: bool = False
    enabled: bool = True
    rate_per_minute: int = Field(default=60, ge=1, le=1_000_000)


class RoutingIn(BaseModel):
    """Incident events matching every non-empty filter go to ``channels``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    severities: list[SeverityName] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    channels: list[str] = Field(min_length=1, max_length=20)
    #: Where to, for channels that need a recipient: an email address, a phone number, a
    #: Slack channel (otherwise the channel's own default).
    address: str | None = Field(default=None, max_length=1000)


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=32)
    event: Event
    title: str = Field(min_length=1, max_length=2000)
    body: str = Field(min_length=1, max_length=20000)


def validated(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "body"
        raise InvalidInput(f"{loc}: {first['msg']}", field=loc) from None


_SECRET_WORDS = ("password", "token", "secret", "auth", "key", "sid")


def redact(config: dict[str, Any]) -> dict[str, Any]:
    """A channel's config as shown: secrets masked (URLs that embed tokens too)."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        secret = any(w in k.lower() for w in _SECRET_WORDS) or (
            k.lower().endswith("url") and isinstance(v, str) and "hooks" in v)
        out[k] = ("•••" + str(v)[-4:]) if secret and v else v
    return out


def channel_read(c: NotificationChannel) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "kind": c.kind, "config": redact(c.config),
            "personal": c.personal, "enabled": c.enabled, "rate_per_minute": c.rate_per_minute,
            "created_at": c.created_at, "updated_at": c.updated_at}


def upsert_channel(session: Session, *, tenant_id: int, body: ChannelIn, now: datetime,
                   channel_id: int | None = None, create_only: bool = False
                   ) -> tuple[NotificationChannel, str]:
    from vigil.notify.channels import build

    try:
        build(body.kind, body.config)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=exc.field or "config") from None
    existing = (get_channel(session, tenant_id=tenant_id, channel_id=channel_id)
                if channel_id is not None else session.scalars(select(NotificationChannel).where(
                    NotificationChannel.tenant_id == tenant_id,
                    NotificationChannel.name == body.name)).first())
    if existing is not None and create_only:
        raise Conflict(f"a channel named {body.name!r} exists", field="name")
    if body.personal:
        other = session.scalars(select(NotificationChannel).where(
            NotificationChannel.tenant_id == tenant_id, NotificationChannel.kind == body.kind,
            NotificationChannel.personal.is_(True))).first()
        if other is not None and (existing is None or other.id != existing.id):
            raise Conflict(f"channel {other.name!r} already carries personal {body.kind} "
                           "notifications", field="personal")
    values = body.model_dump()
    if existing is None:
        row = NotificationChannel(tenant_id=tenant_id, created_at=now, updated_at=now, **values)
        session.add(row)
        session.flush()
        return row, "created"
    if all(getattr(existing, k) == v for k, v in values.items()):
        return existing, "unchanged"
    for k, v in values.items():
        setattr(existing, k, v)
    existing.updated_at = now
    return existing, "updated"


def get_channel(session: Session, *, tenant_id: int, channel_id: int) -> NotificationChannel:
    c = session.get(NotificationChannel, channel_id)
    if c is None or c.tenant_id != tenant_id:
        raise NotFound(f"no channel {channel_id}", field="id")
    return c


def list_channels(session: Session, *, tenant_id: int) -> list[NotificationChannel]:
    return list(session.scalars(select(NotificationChannel).where(
        NotificationChannel.tenant_id == tenant_id).order_by(NotificationChannel.name)))


def upsert_routing(session: Session, *, tenant_id: int, body: RoutingIn, now: datetime,
                   create_only: bool = False) -> tuple[RoutingRule, str]:
    known = {c.name for c in list_channels(session, tenant_id=tenant_id)}
    for i, name in enumerate(body.channels):
        if name not in known:
            raise InvalidInput(f"channels[{i}]: no channel {name!r}", field=f"channels[{i}]")
    spec = body.model_dump()
    existing = session.scalars(select(RoutingRule).where(
        RoutingRule.tenant_id == tenant_id, RoutingRule.name == body.name)).first()
    if existing is not None and create_only:
        raise Conflict(f"a routing rule named {body.name!r} exists", field="name")
    if existing is None:
        row = RoutingRule(tenant_id=tenant_id, name=body.name, spec=spec, created_at=now,
                          updated_at=now)
        session.add(row)
        session.flush()
        return row, "created"
    if existing.spec == spec:
        return existing, "unchanged"
    existing.spec, existing.updated_at = spec, now
    return existing, "updated"


def set_template(session: Session, *, tenant_id: int, body: TemplateIn,
                 now: datetime) -> TemplateOverride:
    templates.compile_template(body.title, "title")
    templates.compile_template(body.body, "body")
    row = session.scalars(select(TemplateOverride).where(
        TemplateOverride.tenant_id == tenant_id, TemplateOverride.kind == body.kind,
        TemplateOverride.event == body.event)).first()
    if row is None:
        row = TemplateOverride(tenant_id=tenant_id, kind=body.kind, event=body.event,
                               title=body.title, body=body.body, updated_at=now)
        session.add(row)
    else:
        row.title, row.body, row.updated_at = body.title, body.body, now
    session.flush()
    return row
