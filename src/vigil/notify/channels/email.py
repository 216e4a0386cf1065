"""Email over SMTP (stdlib ``smtplib``).

One multipart/alternative message per notification (plain text + HTML) to
``message.address``. ``Message-ID`` is derived from the idempotency key, so a retried send
carries the same id (receiving systems can drop the duplicate); ``X-Vigil-Key`` carries the
key itself. When ``message.thread`` is set it is used as ``In-Reply-To``/``References`` so
mail clients group the conversation.

Outcomes: SMTP 4xx replies, connection errors and timeouts are retryable; 5xx replies (bad
recipient, rejected login, policy) and TLS certificate failures are permanent.
"""

from __future__ import annotations

import hashlib
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from vigil.notify.base import Message, Result
from vigil.notify.channels._common import ConfigProblem, one_line, trim

_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def _address(value: str) -> str:
    """The bare address of ``value`` ("Name <a@b>" or "a@b"), or ValueError."""
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain line breaks")
    _, addr = parseaddr(value)
    local, _, domain = addr.rpartition("@")
    if not local or not domain or " " in addr:
        raise ValueError("must be an email address")
    return addr


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Write-only fields and how they are shown (``notify.service.mask_config``).
    SECRETS: ClassVar[dict[str, str]] = {"password": "token"}

    smtp_host: str = Field(min_length=1, max_length=255)
    #: Defaults by security: 587 (starttls), 465 (tls), 25 (none).
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(default=None, min_length=1)
    password: SecretStr | None = None
    from_address: str = Field(max_length=320)
    timeout: float = Field(default=10.0, gt=0, le=300)
    #: Extra CA bundle (PEM) to trust, for relays with a private CA.
    ca_file: str | None = None
    verify_tls: bool = True
    #: Name sent in EHLO; default: this host's FQDN.
    helo_name: str | None = None

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        _address(value)
        return value

    @model_validator(mode="after")
    def _credentials(self) -> EmailConfig:
        if (self.username is None) != (self.password is None):
            field = "password" if self.password is None else "username"
            raise ConfigProblem(field, "username and password go together")
        return self

    @property
    def port(self) -> int:
        return self.smtp_port or _DEFAULT_PORTS[self.security]


def message_id(key: str, from_address: str) -> str:
    domain = _address(from_address).rpartition("@")[2]
    return f"<vigil.{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


class EmailChannel:
    kind = "email"

    def __init__(self, config: EmailConfig) -> None:
        self.config = config

    def build(self, message: Message) -> EmailMessage:
        cfg = self.config
        msg = EmailMessage()
        msg["Subject"] = trim(one_line(message.title), 250)
        msg["From"] = cfg.from_address
        msg["To"] = message.address
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = message_id(message.key, cfg.from_address)
        if message.thread:
            msg["In-Reply-To"] = message.thread
            msg["References"] = message.thread
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Vigil-Key"] = one_line(message.key)
        msg["X-Vigil-Event"] = one_line(message.event)
        if message.incident_id is not None:
            msg["X-Vigil-Incident"] = str(message.incident_id)
        msg.set_content(message.text or message.title)
        body_html = message.html or (
            f"<html><body><pre>{html.escape(message.text or message.title)}</pre></body></html>")
        msg.add_alternative(body_html, subtype="html")
        return msg

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.config.ca_file)
        if not self.config.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.security == "tls":
            return smtplib.SMTP_SSL(cfg.smtp_host, cfg.port, local_hostname=cfg.helo_name,
                                    timeout=cfg.timeout, context=self._tls())
        return smtplib.SMTP(cfg.smtp_host, cfg.port, local_hostname=cfg.helo_name,
                            timeout=cfg.timeout)

    def send(self, message: Message) -> Result:
        cfg = self.config
        try:
            rcpt = _address(message.address)
        except ValueError as exc:
            return Result(ok=False, detail=f"recipient {message.address!r}: {exc}")
        msg = self.build(message)
        mid = str(msg["Message-ID"])
        try:
            with self._connect() as smtp:
                if cfg.security == "starttls":
                    smtp.starttls(context=self._tls())
                if cfg.username is not None and cfg.password is not None:
                    smtp.login(cfg.username, cfg.password.get_secret_value())
                smtp.send_message(msg, from_addr=_address(cfg.from_address), to_addrs=[rcpt])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (-1, b""))
            return _reply(code, text)
        except smtplib.SMTPResponseException as exc:
            return _reply(exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPNotSupportedError as exc:
            return Result(ok=False, detail=f"SMTP server does not support it: {exc}")
        except ssl.SSLCertVerificationError as exc:
            return Result(ok=False, detail=f"TLS certificate rejected: {exc}")
        except TimeoutError as exc:
            return Result(ok=False, retryable=True, detail=f"timeout error: {exc!r}")
        except (smtplib.SMTPException, OSError) as exc:
            return Result(ok=False, retryable=True, detail=f"connection error: {exc!r}")
        return Result(ok=True, provider_id=mid, detail="accepted")


def _reply(code: int, text: bytes | str) -> Result:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    detail = trim(f"SMTP {code}: {one_line(said)}", 500)
    return Result(ok=False, retryable=not 500 <= code < 600, detail=detail)
