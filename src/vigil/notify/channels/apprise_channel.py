"""Any service Apprise speaks (``apprise`` library), by Apprise URL: ``json://``,
``mailto://``, ``tgram://``, ``discord://``, ``ntfy://``, ...

The URL is checked with Apprise when the config is validated, so an unsupported scheme
or malformed URL is a 422 there. Apprise reports only success or failure, not why or
whether it is transient, so every failure is retryable, with Apprise's log lines as the
detail.
"""

from __future__ import annotations

import logging
from typing import ClassVar

import apprise
from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil.notify.base import Message, Result
from vigil.notify.channels._common import one_line, trim

_TYPES = {"critical": apprise.NotifyType.FAILURE, "high": apprise.NotifyType.FAILURE,
          "warning": apprise.NotifyType.WARNING}


class AppriseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Write-only fields and how they are shown (``notify.service.mask_config``).
    SECRETS: ClassVar[dict[str, str]] = {"url": "opaque_url"}

    url: str = Field(min_length=3, max_length=4096)

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if apprise.Apprise.instantiate(value) is None:
            scheme = value.partition("://")[0] if "://" in value else ""
            raise ValueError(f"not a supported Apprise URL (scheme {scheme!r})" if scheme
                             else "not an Apprise URL (scheme://...)")
        return value


class AppriseChannel:
    kind = "apprise"

    def __init__(self, config: AppriseConfig) -> None:
        self.config = config

    def send(self, message: Message) -> Result:
        notifier = apprise.Apprise()
        if not notifier.add(self.config.url):
            return Result(ok=False, detail="Apprise rejected the URL")
        if message.event == "resolved":
            kind = apprise.NotifyType.SUCCESS
        else:
            kind = _TYPES.get(message.severity, apprise.NotifyType.INFO)
        try:
            capture = apprise.LogCapture(  # type: ignore[no-untyped-call]
                level=logging.WARNING, fmt="%(message)s")
            with capture as logs:
                ok = notifier.notify(title=trim(one_line(message.title), 250),
                                     body=message.text or message.title, notify_type=kind)
                said = logs.getvalue()
        except Exception as exc:  # a plugin bug must not escape send()
            return Result(ok=False, retryable=True, detail=f"Apprise raised {exc!r}")
        if ok:
            return Result(ok=True, detail="sent")
        return Result(ok=False, retryable=True,
                      detail=trim(one_line(said) or "Apprise reported a failure", 500))
