"""Notification channels and routing rules as YAML documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.document_kinds import Kind, register
from vigil.notify import service as svc
from vigil.notify.models import RoutingRule


class ChannelDoc(BaseModel):
    """A channel in YAML: ``type`` is the channel's kind (``kind`` names the document)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=32)
    config: dict[str, Any] = Field(default_factory=dict)
    personal: bool = False
    enabled: bool = True
    rate_per_minute: int = Field(default=60, ge=1, le=1_000_000)

    def as_channel(self) -> svc.ChannelIn:
        data = self.model_dump()
        data["kind"] = data.pop("type")
        return svc.ChannelIn.model_validate(data)


def _apply_channel(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
    _, outcome = svc.upsert_channel(session, tenant_id=tenant_id, body=body.as_channel(),
                                    now=now)
    return outcome


def _export_channels(session: Session, tenant_id: int) -> list[dict[str, Any]]:
    """Secrets masked, as the API shows them: applied back to the same database they keep
    the stored secrets; elsewhere, put the real ones in."""
    return [ChannelDoc(name=c.name, type=c.kind, config=svc.shown_config(c),
                       personal=c.personal, enabled=c.enabled,
                       rate_per_minute=c.rate_per_minute).model_dump()
            for c in svc.list_channels(session, tenant_id=tenant_id)]


def _check_channel(body: Any) -> None:
    from vigil.notify.channels import validate

    if svc.has_masked_values(body.config):
        return  # checked when applied, with the stored secrets in place of the masks
    validate(body.type, body.config)


def _apply_routing(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
    _, outcome = svc.upsert_routing(session, tenant_id=tenant_id, body=body, now=now)
    return outcome


def _export_routing(session: Session, tenant_id: int) -> list[dict[str, Any]]:
    return [dict(r.spec) for r in session.scalars(select(RoutingRule).where(
        RoutingRule.tenant_id == tenant_id).order_by(RoutingRule.id))]


register("NotificationChannel", Kind(schema=ChannelDoc, apply=_apply_channel,
                                     export=_export_channels, check=_check_channel))
register("RoutingRule", Kind(schema=svc.RoutingIn, apply=_apply_routing,
                             export=_export_routing))
