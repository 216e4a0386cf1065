"""Channel adapters by kind: each kind's config model and the factory that builds the
adapter from a validated config. ``build`` is what the rest of Vigil calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from vigil.errors import InvalidInput
from vigil.notify.base import Channel
from vigil.notify.channels import (
    apprise_channel,
    email,
    opsgenie,
    pagerduty,
    slack,
    teams,
    twilio_sms,
    webhook,
)
from vigil.notify.channels._common import invalid_config

Factory = Callable[[Any], Channel]

KINDS: dict[str, tuple[type[BaseModel], Factory]] = {
    "email": (email.EmailConfig, email.EmailChannel),
    "slack": (slack.SlackConfig, slack.SlackChannel),
    "teams": (teams.TeamsConfig, teams.TeamsChannel),
    "webhook": (webhook.WebhookConfig, webhook.WebhookChannel),
    "sms": (twilio_sms.TwilioConfig, twilio_sms.sms),
    "voice": (twilio_sms.TwilioConfig, twilio_sms.voice),
    "pagerduty": (pagerduty.PagerDutyConfig, pagerduty.PagerDutyChannel),
    "opsgenie": (opsgenie.OpsgenieConfig, opsgenie.OpsgenieChannel),
    "apprise": (apprise_channel.AppriseConfig, apprise_channel.AppriseChannel),
}


def validate(kind: str, config: Any) -> BaseModel:
    """The validated config model; InvalidInput naming the field ("config.smtp_port")."""
    if kind not in KINDS:
        raise InvalidInput(f"kind: unknown channel kind {kind!r}; known: {', '.join(KINDS)}",
                           field="kind")
    if not isinstance(config, dict):
        raise InvalidInput("config: must be an object", field="config")
    try:
        return KINDS[kind][0].model_validate(config)
    except ValidationError as exc:
        raise invalid_config(exc) from None


def build(kind: str, config: dict[str, Any]) -> Channel:
    checked = validate(kind, config)  # first: an unknown kind is a 422, not a KeyError
    return KINDS[kind][1](checked)


__all__ = ["KINDS", "build", "validate"]
