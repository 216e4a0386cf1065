"""What the channel adapters share: config validation errors that name the field, the
HTTP outcome -> Result mapping, Retry-After parsing and text trimming."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import json as _json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import AfterValidator, ValidationError

from vigil.core.severity import SEVERITY_NAMES
from vigil.errors import InvalidInput
from vigil.notify.base import Message, Result

#: Vigil severities, most severe first.
SEVERITIES = SEVERITY_NAMES
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


def titled(message: Message) -> str:
    """The message's title naming the incident once, as ``INC-<number>``: the built-in
    templates put it in the title already; a custom title without it gets it in front."""
    number = message.incident_number
    if number is None or re.search(rf"\bINC-{number}\b", message.title):
        return message.title
    return f"INC-{number} {message.title}"


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


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, read in full: what the adapters look at."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return _json.loads(self.content)


def error_text(resp: Reply) -> str:
    try:
        return trim(one_line(resp.text), DETAIL_LIMIT)
    except Exception:  # undecodable body
        return ""


def retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def from_response(resp: Reply, provider_id: str | None = None) -> Result:
    status = resp.status_code
    if 200 <= status < 300:
        return Result(ok=True, provider_id=provider_id, detail=f"HTTP {status}")
    text = error_text(resp)
    detail = f"HTTP {status}: {text}" if text else f"HTTP {status}"
    if retryable_status(status):
        return Result(ok=False, retryable=True, detail=detail,
                      retry_after=parse_retry_after(resp.headers.get("retry-after")))
    return Result(ok=False, detail=detail)


def transport_failure(exc: BaseException) -> Result:
    kind = "timeout" if "timeout" in type(exc).__name__.lower() else "connection"
    return Result(ok=False, retryable=True, detail=f"{kind} error: {exc!r}")


class _Http:
    """One aiohttp session for every channel, on an event loop of its own thread: it keeps
    connections alive and costs about a third of the CPU per request of a synchronous
    client (the notifier sends hundreds a second). ``post`` may be called from any
    thread; it waits for its own answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        #: The proxies from HTTP_PROXY / HTTPS_PROXY / NO_PROXY, and each host's choice:
        #: looked up once, not per request (aiohttp's trust_env does it per request).
        self._proxies = urllib.request.getproxies()
        self._proxy_for: dict[tuple[str, str], str | None] = {}

    def proxy(self, url: str) -> str | None:
        parts = urlsplit(url)
        which = (parts.scheme, parts.hostname or "")
        if which not in self._proxy_for:
            chosen = self._proxies.get(parts.scheme)
            if chosen and urllib.request.proxy_bypass(which[1]):
                chosen = None
            self._proxy_for[which] = chosen
        return self._proxy_for[which]

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="vigil-http",
                                 daemon=True).start()
                self._loop = loop
                atexit.register(self.close)
            return self._loop

    def close(self) -> None:
        """Close the session's connections (at exit)."""
        loop, session = self._loop, self._session
        if loop is None or session is None or not loop.is_running():
            return
        self._session = None
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(session.close(), loop).result(5)

    async def _post(self, url: str, body: bytes | None, headers: dict[str, str],
                    timeout: float, params: Mapping[str, str] | None) -> Reply:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, limit_per_host=64),
                auto_decompress=True)
        async with self._session.post(url, data=body, headers=headers, params=params,
                                      allow_redirects=False, proxy=self.proxy(url),
                                      timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            content = await resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()},
                         content)

    def post(self, url: str, body: bytes | None, headers: dict[str, str], timeout: float,
             params: Mapping[str, str] | None) -> Reply:
        loop = self._start()
        future = asyncio.run_coroutine_threadsafe(
            self._post(url, body, headers, timeout, params), loop)
        return future.result(timeout + 5)


_http = _Http()


def _check_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"unsupported scheme {parts.scheme!r}"
    if not parts.hostname:
        return "no host"
    return None


def post(url: str, *, json: Any = None, content: bytes | None = None,
         headers: Mapping[str, str] | None = None, timeout: float = 10.0,
         params: Mapping[str, str] | None = None,
         ident: Callable[[Reply], str | None] | None = None) -> Result:
    """POST and map the outcome: 2xx ok; 408/429/5xx, timeouts and connection errors
    retryable (with Retry-After); other statuses permanent with the provider's text."""
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    problem = _check_url(url)
    if problem:
        return Result(ok=False, detail=f"bad URL {url!r}: {problem}")
    if json is not None:
        content = _json.dumps(json, ensure_ascii=False, separators=(",", ":"),
                              default=str).encode()
        all_headers.setdefault("Content-Type", "application/json")
    try:
        resp = _http.post(url, content, all_headers, timeout, params)
    except (TimeoutError, concurrent.futures.TimeoutError) as exc:
        return transport_failure(exc)
    except aiohttp.InvalidURL as exc:
        return Result(ok=False, detail=f"bad URL: {exc!r}")
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
        return transport_failure(exc)
    except (aiohttp.ClientError, ValueError, UnicodeError) as exc:
        return Result(ok=False, detail=f"request not sent: {exc!r}")
    provider_id = None
    if ident is not None and 200 <= resp.status_code < 300:
        try:
            provider_id = ident(resp)
        except Exception:  # an unexpected body does not undo a delivery
            provider_id = None
    return from_response(resp, provider_id)


def json_field(name: str) -> Callable[[Reply], str | None]:
    def get(resp: Reply) -> str | None:
        data = resp.json()
        value = data.get(name) if isinstance(data, dict) else None
        return None if value is None else str(value)
    return get
