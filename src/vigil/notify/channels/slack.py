"""Slack, by incoming webhook or by bot token (the official ``slack-sdk``).

Webhook mode POSTs ``{"text", "blocks"}`` to the webhook URL (no threading: webhooks do not
return a ts). Bot mode calls ``chat.postMessage`` with Block Kit to ``message.address`` or
the configured channel; provider_id is the ts of the conversation's first post. When
``message.thread`` (that ts) is set, later events are posted as thread replies
(``thread_ts``) and, for acknowledged/resolved, the original post is rewritten with
``chat.update`` to show the new state. The reply is the delivery: a failed update after a
delivered reply is reported in ``detail`` but stays ok (retrying would repeat the reply).

Errors: ``ratelimited``/HTTP 429 (with Retry-After), HTTP 5xx and Slack's transient error
codes, timeouts and connection errors are retryable; other Slack errors are permanent.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from vigil.notify.base import Message, Result
from vigil.notify.channels._common import (
    ConfigProblem,
    HttpURL,
    one_line,
    parse_retry_after,
    post,
    titled,
    transport_failure,
    trim,
)

_TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable",
              "request_timeout"}
_ICONS = {"critical": ":red_circle:", "high": ":large_orange_circle:",
          "warning": ":large_yellow_circle:", "info": ":large_blue_circle:",
          "low": ":white_circle:"}
_STATE = {"acknowledged": ":eyes: Acknowledged", "resolved": ":white_check_mark: Resolved"}


class SlackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Write-only fields and how they are shown (``notify.service.mask_config``).
    SECRETS: ClassVar[dict[str, str]] = {"webhook_url": "secret_url", "token": "token",
                                         "base_url": "url"}

    webhook_url: HttpURL | None = None
    token: SecretStr | None = None
    #: Default channel (id or name) in bot mode; ``message.address`` overrides it.
    channel: str | None = Field(default=None, min_length=1, max_length=80)
    base_url: HttpURL = "https://slack.com/api/"
    timeout: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _mode(self) -> SlackConfig:
        if (self.webhook_url is None) == (self.token is None):
            raise ConfigProblem("webhook_url", "set either webhook_url or token (bot mode)")
        if self.token is not None and not self.token.get_secret_value().startswith("xox"):
            raise ConfigProblem("token", "must be a Slack token (xoxb-...)")
        return self


def headline(message: Message) -> str:
    icon = _ICONS.get(message.severity, ":bell:")
    return one_line(f"{icon} [{message.severity.upper()}] {titled(message)}")


def blocks(message: Message, *, state: str | None = None) -> list[dict[str, Any]]:
    """Block Kit for a notification; ``state`` (acknowledged/resolved) trims the buttons."""
    fields = [{"type": "mrkdwn", "text": f"*Severity*\n{message.severity}"}]
    if service := message.fields.get("service"):
        fields.append({"type": "mrkdwn", "text": f"*Service*\n{service}"})
    for label, value in message.fields.items():
        if label != "service" and len(fields) < 10:
            fields.append({"type": "mrkdwn", "text": trim(f"*{label}*\n{value}", 2000)})
    out: list[dict[str, Any]] = [
        {"type": "header",
         "text": {"type": "plain_text", "text": trim(one_line(titled(message)), 150),
                  "emoji": True}},
        {"type": "section", "fields": fields},
    ]
    if message.text:
        out.append({"type": "section",
                    "text": {"type": "mrkdwn", "text": trim(message.text, 3000)}})
    context = [f"Event: *{_STATE.get(state or '', message.event)}*"]
    if message.url:
        context.append(f"<{message.url}|Open in Vigil>")
    out.append({"type": "context",
                "elements": [{"type": "mrkdwn", "text": " \u2022 ".join(context)}]})
    buttons = []
    if message.ack_url and state not in ("acknowledged", "resolved"):
        buttons.append({"type": "button", "action_id": "vigil_ack", "url": message.ack_url,
                        "text": {"type": "plain_text", "text": "Acknowledge"},
                        "style": "primary"})
    if message.resolve_url and state != "resolved":
        buttons.append({"type": "button", "action_id": "vigil_resolve",
                        "url": message.resolve_url,
                        "text": {"type": "plain_text", "text": "Resolve"}})
    if buttons:
        out.append({"type": "actions", "block_id": "vigil_actions", "elements": buttons})
    return out


class SlackChannel:
    kind = "slack"

    def __init__(self, config: SlackConfig) -> None:
        self.config = config
        self.client: WebClient | None = None
        if config.token is not None:
            # retry_handlers=[]: retries belong to the delivery loop, not the SDK.
            self.client = WebClient(token=config.token.get_secret_value(),
                                    base_url=config.base_url, timeout=max(1, round(config.timeout)),
                                    retry_handlers=[])

    def send(self, message: Message) -> Result:
        if self.client is None:
            assert self.config.webhook_url is not None
            return post(self.config.webhook_url, timeout=self.config.timeout,
                        json={"text": headline(message), "blocks": blocks(message)})
        channel = message.address or self.config.channel
        if not channel:
            return Result(ok=False, detail="no Slack channel: set config.channel or address")
        return self._bot(self.client, channel, message)

    def _bot(self, client: WebClient, channel: str, message: Message) -> Result:
        text = headline(message)
        if message.thread is None:
            outcome = _call(lambda: client.chat_postMessage(
                channel=channel, text=text, blocks=blocks(message), unfurl_links=False))
            if isinstance(outcome, Result):
                return outcome
            return Result(ok=True, provider_id=str(outcome["ts"]), detail="posted")
        thread = message.thread
        reply = _call(lambda: client.chat_postMessage(
            channel=channel, thread_ts=thread, text=text, blocks=blocks(message),
            unfurl_links=False))
        if isinstance(reply, Result):
            return reply
        detail = f"replied in thread ({reply.get('ts')})"
        if message.event in _STATE:
            updated = _call(lambda: client.chat_update(
                channel=str(reply.get("channel") or channel), ts=thread,
                text=f"{_STATE[message.event]}: {text}",
                blocks=blocks(message, state=message.event)))
            detail += f"; update failed: {updated.detail}" if isinstance(updated, Result) \
                else "; original updated"
        return Result(ok=True, provider_id=thread, detail=detail)


def _call(fn: Callable[[], SlackResponse]) -> dict[str, Any] | Result:
    """Run one Web API call: its data, or the failure as a Result."""
    try:
        resp = fn()
    except SlackApiError as exc:
        return _api_error(exc)
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
        return transport_failure(exc)
    data = resp.data
    return data if isinstance(data, dict) else {}


def _api_error(exc: SlackApiError) -> Result:
    resp = exc.response
    status = int(getattr(resp, "status_code", 0) or 0)
    data = getattr(resp, "data", None)
    error = str(data.get("error", "")) if isinstance(data, dict) else ""
    detail = trim(f"Slack {status}: {error or exc}", 500)
    if error in _TRANSIENT or status == 429 or status >= 500:
        headers = getattr(resp, "headers", None) or {}
        after = headers.get("Retry-After") or headers.get("retry-after")
        if isinstance(after, list):
            after = after[0] if after else None
        return Result(ok=False, retryable=True, detail=detail,
                      retry_after=parse_retry_after(after))
    return Result(ok=False, detail=detail)
