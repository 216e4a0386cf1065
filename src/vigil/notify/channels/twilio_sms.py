"""SMS and voice calls through Twilio (the official ``twilio`` library).

Kind ``sms`` sends a short text with the incident number and the reply codes
("Reply 12a to acknowledge, 12r to resolve"); ``parse_reply`` reads such an inbound reply.
Kind ``voice`` places a call whose TwiML says the title twice. provider_id is the SID.

``base_url`` (tests, proxies) replaces ``https://api.twilio.com``: the library builds
every API URL from ``client.api.base_url``, so that attribute is overwritten.
``valid_signature`` checks ``X-Twilio-Signature`` on inbound webhooks (SMS replies).

Errors: Twilio 429/5xx (Retry-After honoured), timeouts and connection errors are
retryable; other 4xx (bad number, unverified recipient, ...) are permanent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from twilio.base.exceptions import TwilioRestException  # type: ignore[import-untyped]
from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped]
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from vigil.notify.base import Message, Result
from vigil.notify.channels._common import (
    HttpURL,
    one_line,
    parse_retry_after,
    retryable_status,
    transport_failure,
    trim,
)

E164 = r"^\+[1-9]\d{6,14}$"
_REPLY = re.compile(r"^\s*#?(\d{1,9})\s*([arc])\s*[.!]?\s*$", re.IGNORECASE)
_ACTIONS = {"a": "acknowledge", "r": "resolve", "c": "close"}
SMS_LIMIT = 320  # two segments


class TwilioConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Write-only fields and how they are shown (``notify.service.mask_config``).
    SECRETS: ClassVar[dict[str, str]] = {"auth_token": "token", "base_url": "url"}

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr = Field(min_length=8)
    from_number: str = Field(pattern=E164)
    #: Replaces https://api.twilio.com (tests); default: the real API.
    base_url: HttpURL | None = None
    timeout: float = Field(default=10.0, gt=0, le=120)


def parse_reply(body: str) -> tuple[int, str] | None:
    """``"12a"`` -> ``(12, "acknowledge")``; ``"12r"`` -> resolve; ``"12c"`` -> close."""
    m = _REPLY.match(body or "")
    if m is None:
        return None
    return int(m.group(1)), _ACTIONS[m.group(2).lower()]


def valid_signature(auth_token: str, url: str, params: Mapping[str, Any],
                    signature: str) -> bool:
    """Whether ``signature`` (X-Twilio-Signature) signs this request to ``url`` with
    its POST ``params``."""
    try:
        return bool(RequestValidator(auth_token).validate(url, dict(params), signature or ""))
    except Exception:
        return False


def sms_text(message: Message) -> str:
    number = message.incident_number
    head = f"[{message.severity.upper()}]" + (f" #{number}" if number is not None else "")
    tail = "" if number is None or message.event == "resolved" else (
        f"\nReply {number}a to acknowledge, {number}r to resolve")
    room = SMS_LIMIT - len(tail)
    return trim(one_line(f"{head} {message.event}: {message.title}"), room) + tail


def twiml(message: Message) -> str:
    resp = VoiceResponse()
    number = message.incident_number
    intro = "Vigil alert." + (f" Incident {number}." if number is not None else "")
    resp.say(trim(one_line(f"{intro} {message.severity}. {message.title}"), 500), loop=2)
    return str(resp)


class _HttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Remembers the last response, whose headers (Retry-After) the exceptions lack."""

    last: Any = None

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self.last = None
        self.last = super().request(*args, **kwargs)
        return self.last


class TwilioChannel:
    def __init__(self, config: TwilioConfig, kind: Literal["sms", "voice"] = "sms") -> None:
        self.config = config
        self.kind: str = kind
        self.http = _HttpClient(timeout=config.timeout, pool_connections=False)
        self.client = Client(config.account_sid, config.auth_token.get_secret_value(),
                             http_client=self.http)
        if config.base_url:
            self.client.edge = self.client.region = None  # no hostname rewriting
            self.client.api.base_url = config.base_url.rstrip("/")

    def send(self, message: Message) -> Result:
        to = message.address.replace(" ", "")
        if not re.match(E164, to):
            return Result(ok=False, detail=f"recipient {message.address!r} is not E.164")
        try:
            if self.kind == "voice":
                call = self.client.calls.create(to=to, from_=self.config.from_number,
                                                twiml=twiml(message))
                sid = call.sid
            else:
                sms = self.client.messages.create(to=to, from_=self.config.from_number,
                                                  body=sms_text(message))
                sid = sms.sid
        except TwilioRestException as exc:
            return self._failure(exc)
        except OSError as exc:  # requests' errors are OSErrors
            return transport_failure(exc)
        return Result(ok=True, provider_id=str(sid) if sid else None, detail="queued")

    def _failure(self, exc: Any) -> Result:
        status = int(exc.status or 0)
        code = f" (code {exc.code})" if exc.code else ""
        detail = trim(f"Twilio {status}{code}: {one_line(str(exc.msg))}", 500)
        if retryable_status(status):
            headers = getattr(self.http.last, "headers", None) or {}
            return Result(ok=False, retryable=True, detail=detail,
                          retry_after=parse_retry_after(headers.get("Retry-After")))
        return Result(ok=False, detail=detail)


def sms(config: TwilioConfig) -> TwilioChannel:
    return TwilioChannel(config, "sms")


def voice(config: TwilioConfig) -> TwilioChannel:
    return TwilioChannel(config, "voice")
