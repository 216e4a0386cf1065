"""What the channel adapters share: config validation errors that name the field, the
HTTP outcome -> Result mapping, Retry-After parsing and text trimming."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, ValidationError

from vigil.errors import InvalidInput
from vigil.notify.base import Result

#: Vigil severities, most severe first.
SEVERITIES = ("critical", "high", "warning", "info", "low")
EVENTS = ("triggered", "acknowledged", "escalated", "resolved", "reminder", "test")
USER_AGENT = "Vigil-Notify/1"
#: Provider error text kept in ``Result.detail``.
DETAIL_LIMIT = 500


class ConfigProblem(ValueError):
    """A cross-field config error raised inside a model validator that should name
    ``field`` rather than the whole config."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def invalid_config(exc: ValidationError, prefix: str = "config") -> InvalidInput:
    details: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigProblem):
            loc = [cause.field]
        name = ".".join([prefix, *loc]) if prefix else ".".join(loc) or "config"
        details.append({"field": name, "message": err["msg"].removeprefix("Value error, ")})
    first = details[0]
    return InvalidInput(f"{first['field']}: {first['message']}", field=first["field"],
                        details=details)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


HttpURL = Annotated[str, AfterValidator(_http_url)]


def trim(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def one_line(value: str) -> str:
    return " ".join(value.split())


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 7231 dates are GMT
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_text(resp: httpx.Response) -> str:
    try:
        return trim(one_line(resp.text), DETAIL_LIMIT)
    except Exception:  # undecodable body
        return ""


def retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def from_response(resp: httpx.Response, provider_id: str | None = None) -> Result:
    status = resp.status_code
    if 200 <= status < 300:
        return Result(ok=True, provider_id=provider_id, detail=f"HTTP {status}")
    text = error_text(resp)
    detail = f"HTTP {status}: {text}" if text else f"HTTP {status}"
    if retryable_status(status):
        return Result(ok=False, retryable=True, detail=detail,
                      retry_after=parse_retry_after(resp.headers.get("retry-after")))
    return Result(ok=False, detail=detail)


def transport_failure(exc: Exception) -> Result:
    kind = "timeout" if "timeout" in type(exc).__name__.lower() else "connection"
    return Result(ok=False, retryable=True, detail=f"{kind} error: {exc!r}")


#: One client for every channel: keeps connections alive, and builds its TLS context once
#: (a client per message spent ~15 ms of CPU on that alone). httpx clients are thread-safe.
_client = httpx.Client(follow_redirects=False)


def post(url: str, *, json: Any = None, content: bytes | None = None,
         headers: Mapping[str, str] | None = None, timeout: float = 10.0,
         params: Mapping[str, str] | None = None,
         ident: Callable[[httpx.Response], str | None] | None = None) -> Result:
    """POST and map the outcome: 2xx ok; 408/429/5xx, timeouts and connection errors
    retryable (with Retry-After); other statuses permanent with the provider's text."""
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        resp = _client.post(url, json=json, content=content, headers=all_headers,
                            timeout=timeout, params=params)
    except httpx.UnsupportedProtocol as exc:
        return Result(ok=False, detail=f"bad URL: {exc}")
    except httpx.TransportError as exc:
        return transport_failure(exc)
    except (httpx.InvalidURL, httpx.HTTPError, UnicodeEncodeError) as exc:
        return Result(ok=False, detail=f"request not sent: {exc!r}")
    provider_id = None
    if ident is not None and 200 <= resp.status_code < 300:
        try:
            provider_id = ident(resp)
        except Exception:  # an unexpected body does not undo a delivery
            provider_id = None
    return from_response(resp, provider_id)


def json_field(name: str) -> Callable[[httpx.Response], str | None]:
    def get(resp: httpx.Response) -> str | None:
        data = resp.json()
        value = data.get(name) if isinstance(data, dict) else None
        return None if value is None else str(value)
    return get
