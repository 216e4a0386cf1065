"""Channels, routing rules and template overrides: validated when saved."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from vigil.auth.secrets_at_rest import Keyring, SecretKeyError, is_sealed, keyring
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


#: What a secret is shown as: this, then the value's last 4 characters when it is long
#: enough that they give nothing away (``••••abcd``).
MASK = "\u2022\u2022\u2022\u2022"
_SECRET_WORDS = ("password", "token", "secret", "auth", "key", "sid")


def mask_token(value: Any) -> str:
    text = str(value)
    return MASK + text[-4:] if len(text) >= 12 else MASK


def mask_url(value: str, *, whole_path: bool = False) -> str:
    """A URL as shown: scheme, host, port and path, without the password, query values or
    fragment; path segments long enough to be tokens (or the whole path of URLs whose path
    is the secret: ``whole_path``) masked."""
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return mask_token(value)
    if not parts.scheme or not host:
        return mask_token(value)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username is not None:
        user = quote(unquote(parts.username), safe="") if parts.username else ""
        netloc = (f"{user}:{MASK}" if parts.password is not None else user) + "@" + netloc
    path = parts.path
    if whole_path and path.strip("/"):
        path = "/" + mask_token(path)
    else:
        path = "/".join(mask_token(seg) if len(seg) >= 20 else seg for seg in path.split("/"))
    query = "&".join(
        (f"{k}={MASK}" if v else f"{k}=") if sep else k
        for k, sep, v in (pair.partition("=") for pair in parts.query.split("&") if pair))
    return urlunsplit((parts.scheme, netloc, path, query, MASK if parts.fragment else ""))


def _mask_opaque_url(value: str) -> str:
    """Apprise URLs carry tokens anywhere (``tgram://<bot token>/<chat>``): the scheme."""
    scheme, sep, _ = value.partition("://")
    return f"{scheme}://{mask_token(value)}" if sep else mask_token(value)


def _mask(how: str, value: Any) -> Any:
    if value is None or value == "" or value == {}:
        return value
    if how == "headers" and isinstance(value, dict):
        return {k: mask_token(v) if v else v for k, v in value.items()}
    if not isinstance(value, str):
        return mask_token(value)
    if how == "url":
        return mask_url(value)
    if how == "secret_url":
        return mask_url(value, whole_path=True)
    if how == "opaque_url":
        return _mask_opaque_url(value)
    return mask_token(value)


def _secret_fields(kind: str) -> dict[str, str]:
    from vigil.notify.channels import KINDS

    model = KINDS.get(kind, (None, None))[0]
    return dict(getattr(model, "SECRETS", {}))


def _how(declared: dict[str, str], k: str, v: Any) -> str | None:
    """How field ``k`` is masked, or None if it is no secret. Each kind's config model
    names its secrets (``SECRETS``); any other field whose name suggests a secret, or a
    URL, is one too. The same fields are encrypted at rest (``seal_config``)."""
    how = declared.get(k)
    if how is None and any(w in k.lower() for w in _SECRET_WORDS):
        how = "token"
    elif how is None and k.lower().endswith("url") and isinstance(v, str):
        how = "url"
    return how


def mask_config(kind: str, config: dict[str, Any],
                keys: Keyring | None = None) -> dict[str, Any]:
    """A channel's config as shown to anyone (admins too): secrets are write-only. Values
    encrypted at rest are decrypted with ``keys`` first, to be masked like the plain text
    (a value that cannot be decrypted is shown as the mask alone)."""
    declared = _secret_fields(kind)
    out: dict[str, Any] = {}
    for k, v in config.items():
        v = _shown(v, keys)
        how = _how(declared, k, v)
        out[k] = v if how is None else _mask(how, v)
    return out


def _shown(value: Any, keys: Keyring | None) -> Any:
    if isinstance(value, str) and is_sealed(value):
        if keys is not None:
            try:
                return keys.decrypt(value)
            except SecretKeyError:
                pass
        return MASK
    if isinstance(value, dict):
        return {k: _shown(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v, keys) for v in value]
    return value


def _walk(value: Any, f: Any) -> Any:
    if isinstance(value, str):
        return f(value)
    if isinstance(value, dict):
        return {k: _walk(v, f) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, f) for v in value]
    return value


def seal_config(kind: str, config: dict[str, Any], keys: Keyring) -> dict[str, Any]:
    """``config`` as stored: every string of a secret field (as ``mask_config`` knows
    them) encrypted, and any other string that would look encrypted (so that what
    ``open_config`` decrypts is always ours). Other values stay readable."""
    declared = _secret_fields(kind)
    out: dict[str, Any] = {}
    for k, v in config.items():
        if _how(declared, k, v) is not None:
            out[k] = _walk(v, lambda s: keys.encrypt(s) if s else s)
        else:
            out[k] = _walk(v, lambda s: keys.encrypt(s) if is_sealed(s) else s)
    return out


def open_config(config: dict[str, Any], keys: Keyring) -> dict[str, Any]:
    """A stored config with its secrets decrypted, for sending (never for an answer);
    SecretKeyError if the keys cannot. Plain text stored before encryption reads as is."""
    out: dict[str, Any] = _walk(config, keys.decrypt)
    return out


def needs_sealing(kind: str, config: dict[str, Any]) -> bool:
    """Whether a stored config still holds a secret in plain text (stored before
    encryption at rest)."""
    declared = _secret_fields(kind)
    found: list[str] = []
    for k, v in config.items():
        if _how(declared, k, v) is not None:
            _walk(v, lambda s: found.append(s) if s and not is_sealed(s) else None)
    return bool(found)


def channel_config(session: Session, channel: NotificationChannel) -> dict[str, Any]:
    """The channel's config with its secrets decrypted, to send with."""
    return open_config(channel.config, keyring(session))


def shown_config(channel: NotificationChannel) -> dict[str, Any]:
    """The channel's config as shown (masked; ``mask_config``)."""
    session = object_session(channel)
    return mask_config(channel.kind, channel.config,
                       keyring(session) if session is not None else None)


def _has_mask(value: Any) -> bool:
    if isinstance(value, str):
        return MASK in value
    if isinstance(value, dict):
        return any(_has_mask(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_mask(v) for v in value)
    return False


def has_masked_values(config: Any) -> bool:
    return _has_mask(config)


def unmask_config(kind: str, incoming: dict[str, Any],
                  stored: dict[str, Any] | None) -> dict[str, Any]:
    """``incoming`` with every value sent back exactly as shown (masked) replaced by the
    stored secret, so a GET -> PUT round trip keeps the secrets. A masked value that does
    not match what is shown for the stored one is refused (never stored as the mask)."""
    shown = mask_config(kind, stored) if stored is not None else {}

    def resolve(path: str, value: Any, shown_v: Any, stored_v: Any) -> Any:
        if isinstance(value, str) and MASK in value:
            if stored is not None and value == shown_v:
                return stored_v
            raise InvalidInput(f"{path}: a masked value ({MASK}) that is not this channel's "
                               "stored one; send the secret itself", field=path)
        if isinstance(value, dict) and _has_mask(value):
            sv = shown_v if isinstance(shown_v, dict) else {}
            rv = stored_v if isinstance(stored_v, dict) else {}
            return {k: resolve(f"{path}.{k}", v, sv.get(k), rv.get(k))
                    for k, v in value.items()}
        if isinstance(value, list) and _has_mask(value):
            raise InvalidInput(f"{path}: a masked value ({MASK}); send the secret itself",
                               field=path)
        return value

    raw = stored or {}
    return {k: resolve(f"config.{k}", v, shown.get(k), raw.get(k)) for k, v in incoming.items()}


def channel_read(c: NotificationChannel) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "kind": c.kind, "config": shown_config(c),
            "personal": c.personal, "enabled": c.enabled, "rate_per_minute": c.rate_per_minute,
            "created_at": c.created_at, "updated_at": c.updated_at}


def upsert_channel(session: Session, *, tenant_id: int, body: ChannelIn, now: datetime,
                   channel_id: int | None = None, create_only: bool = False
                   ) -> tuple[NotificationChannel, str]:
    from vigil.notify.channels import build

    existing = (get_channel(session, tenant_id=tenant_id, channel_id=channel_id)
                if channel_id is not None else session.scalars(select(NotificationChannel).where(
                    NotificationChannel.tenant_id == tenant_id,
                    NotificationChannel.name == body.name)).first())
    if existing is not None and create_only:
        raise Conflict(f"a channel named {body.name!r} exists", field="name")
    keys = keyring(session)
    if has_masked_values(body.config):
        # Secrets are write-only: what GET showed, sent back, keeps the stored secret
        # (only of the same kind: another kind's fields mean other things).
        same = existing is not None and existing.kind == body.kind
        config = unmask_config(body.kind, body.config,
                               open_config(existing.config, keys) if same and existing
                               else None)
        body = body.model_copy(update={"config": config})
    try:
        build(body.kind, body.config)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=exc.field or "config") from None
    if body.personal:
        other = session.scalars(select(NotificationChannel).where(
            NotificationChannel.tenant_id == tenant_id, NotificationChannel.kind == body.kind,
            NotificationChannel.personal.is_(True))).first()
        if other is not None and (existing is None or other.id != existing.id):
            raise Conflict(f"channel {other.name!r} already carries personal {body.kind} "
                           "notifications", field="personal")
    values = body.model_dump()
    plain = values.pop("config")
    if existing is None:
        row = NotificationChannel(tenant_id=tenant_id, created_at=now, updated_at=now,
                                  config=seal_config(body.kind, plain, keys), **values)
        session.add(row)
        session.flush()
        return row, "created"
    if all(getattr(existing, k) == v for k, v in values.items()) \
            and _stored_equals(existing, plain, keys):
        return existing, "unchanged"
    for k, v in values.items():
        setattr(existing, k, v)
    existing.config = seal_config(body.kind, plain, keys)
    existing.updated_at = now
    return existing, "updated"


def _stored_equals(row: NotificationChannel, plain: dict[str, Any], keys: Keyring) -> bool:
    """Whether the stored config is ``plain`` (encrypted anew each time, it is compared
    decrypted; one that cannot be decrypted is replaced)."""
    try:
        return open_config(row.config, keys) == plain and not needs_sealing(row.kind, row.config)
    except SecretKeyError:
        return False


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
