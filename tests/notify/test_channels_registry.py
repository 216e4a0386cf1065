"""The channel registry: every kind builds from a valid config, and bad configs are 422s
that name the offending field."""

from __future__ import annotations

from typing import Any

import pytest

from vigil.errors import InvalidInput
from vigil.notify.channels import KINDS, build, validate
from vigil.notify.channels.email import EmailConfig
from vigil.notify.channels.pagerduty import PagerDutyConfig
from vigil.notify.channels.slack import SlackConfig

SID = "AC" + "0" * 32
VALID: dict[str, dict[str, Any]] = {
    "email": {"smtp_host": "smtp.example.com", "from_address": "vigil@example.com"},
    "slack": {"webhook_url": "https://hooks.slack.com/services/T/B/X"},
    "teams": {"webhook_url": "https://example.webhook.office.com/webhookb2/x"},
    "webhook": {"url": "https://hooks.example.com/vigil", "events": ["triggered"]},
    "sms": {"account_sid": SID, "auth_token": "tok-12345678", "from_number": "+15550001111"},
    "voice": {"account_sid": SID, "auth_token": "tok-12345678", "from_number": "+15550001111"},
    "pagerduty": {"routing_key": "R" * 32},
    "opsgenie": {"api_key": "genie-key-1"},
    "apprise": {"url": "json://localhost/"},
}


def test_every_kind_is_registered_and_builds() -> None:
    assert set(KINDS) == set(VALID)
    for kind, config in VALID.items():
        channel = build(kind, config)
        assert channel.kind == kind
        assert callable(channel.send)


def test_defaults() -> None:
    cfg = validate("email", VALID["email"])
    assert isinstance(cfg, EmailConfig)
    assert cfg.security == "starttls" and cfg.port == 587
    tls = validate("email", {**VALID["email"], "security": "tls"})
    assert isinstance(tls, EmailConfig) and tls.port == 465
    pd = validate("pagerduty", VALID["pagerduty"])
    assert isinstance(pd, PagerDutyConfig) and pd.base_url == "https://events.pagerduty.com"
    sl = validate("slack", {"token": "xoxb-1", "channel": "C1"})
    assert isinstance(sl, SlackConfig) and sl.base_url == "https://slack.com/api/"


def field_of(kind: str, config: Any) -> str | None:
    with pytest.raises(InvalidInput) as err:
        build(kind, config)
    assert err.value.status_code == 422
    assert err.value.field is not None and err.value.field in err.value.message
    return err.value.field


@pytest.mark.parametrize(("kind", "config", "field"), [
    ("email", {**VALID["email"], "smtp_port": 70000}, "config.smtp_port"),
    ("email", {**VALID["email"], "smtp_port": "abc"}, "config.smtp_port"),
    ("email", {"from_address": "vigil@example.com"}, "config.smtp_host"),
    ("email", {**VALID["email"], "from_address": "nobody"}, "config.from_address"),
    ("email", {**VALID["email"], "security": "ssl"}, "config.security"),
    ("email", {**VALID["email"], "username": "bot"}, "config.password"),
    ("email", {**VALID["email"], "password": "x"}, "config.username"),
    ("email", {**VALID["email"], "smtp_pass": "x"}, "config.smtp_pass"),
    ("slack", {}, "config.webhook_url"),
    ("slack", {"webhook_url": "ftp://x/y"}, "config.webhook_url"),
    ("slack", {"token": "not-a-token"}, "config.token"),
    ("slack", {"webhook_url": "https://h/x", "token": "xoxb-1"}, "config.webhook_url"),
    ("teams", {"webhook_url": "nope"}, "config.webhook_url"),
    ("webhook", {"url": "https://h/x", "events": ["triggered", "exploded"]}, "config.events"),
    ("webhook", {"url": "https://h/x", "headers": {"X-Vigil-Key": "x"}}, "config.headers"),
    ("webhook", {"url": "https://h/x", "headers": {"Bad Name": "x"}}, "config.headers"),
    ("webhook", {"url": "https://h/x", "headers": {"X-A": "caf\u00e9"}}, "config.headers"),
    ("webhook", {"url": "https://h/x", "secret": "short"}, "config.secret"),
    ("sms", {**VALID["sms"], "account_sid": "XX1"}, "config.account_sid"),
    ("voice", {**VALID["voice"], "from_number": "5550001111"}, "config.from_number"),
    ("pagerduty", {"routing_key": "short"}, "config.routing_key"),
    ("pagerduty", {"routing_key": "R" * 32, "base_url": "events"}, "config.base_url"),
    ("opsgenie", {}, "config.api_key"),
    ("opsgenie", {"api_key": "genie-key-1", "timeout": 0}, "config.timeout"),
    ("apprise", {"url": "bogus://x"}, "config.url"),
])
def test_validation_errors_name_the_field(kind: str, config: dict[str, Any], field: str) -> None:
    assert field_of(kind, config) == field


def test_unknown_kind_and_non_object_config() -> None:
    assert field_of("carrier-pigeon", {}) == "kind"
    assert field_of("email", [1, 2]) == "config"


def test_all_errors_are_listed() -> None:
    with pytest.raises(InvalidInput) as err:
        build("email", {"smtp_port": 0})
    fields = {d["field"] for d in err.value.details}
    assert {"config.smtp_host", "config.smtp_port", "config.from_address"} <= fields


def test_secrets_are_not_echoed() -> None:
    cfg = validate("opsgenie", {"api_key": "genie-key-1"})
    assert "genie-key-1" not in repr(cfg)
