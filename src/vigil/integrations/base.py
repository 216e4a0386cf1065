"""What every inbound parser shares: turning validation errors into 4xx that name the field."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, ValidationError

from vigil.clock import ensure_utc
from vigil.errors import InvalidInput
from vigil.pipeline.event import AlertEvent

Parser = Callable[[Any, dict[str, Any]], list[AlertEvent]]

#: Alertmanager and Grafana use Go's zero time for "no end".
_GO_ZERO_YEAR = 1


def loc_to_field(loc: tuple[int | str, ...], prefix: str = "") -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "body"


def invalid_from(exc: ValidationError, prefix: str = "") -> InvalidInput:
    details = [
        {"field": loc_to_field(e["loc"], prefix), "message": e["msg"].removeprefix("Value error, ")}
        for e in exc.errors()
    ]
    first = details[0]
    return InvalidInput(f"{first['field']}: {first['message']}", field=first["field"],
                        details=details)


def _to_utc(value: datetime) -> datetime:
    try:
        return ensure_utc(value)
    except OverflowError:
        raise ValueError("time is out of range once converted to UTC") from None


#: A timestamp from a payload, converted to UTC while validating, so an out-of-range one
#: is a 422 naming its field.
UTCTime = Annotated[datetime, AfterValidator(_to_utc)]


def optional_time(value: datetime | None) -> datetime | None:
    """A validated ``UTCTime``, or None for Go's zero time ("not set")."""
    if value is None or value.year <= _GO_ZERO_YEAR:
        return None
    return value


def text(value: object, limit: int) -> str:
    s = "" if value is None else str(value)
    return s if len(s) <= limit else s[: limit - 1] + "\u2026"


def str_map(values: dict[str, Any] | None) -> dict[str, str]:
    if not values:
        return {}
    return {str(k): v if isinstance(v, str) else _json_text(v) for k, v in values.items()}


def _json_text(v: Any) -> str:
    try:
        return orjson.dumps(v, default=str).decode()
    except TypeError as exc:  # nested too deeply, or an integer beyond 64 bits
        raise InvalidInput(f"a value cannot be stored: {exc}", field="body") from None


def link(href: str | None, text_: str) -> list[dict[str, str]]:
    return [{"href": href, "text": text_}] if href else []


def derived_key(labels: dict[str, str], summary: str) -> str:
    """A stable dedup key from what an event says, for sources that may send none."""
    material = "\x1f".join(f"{k}={labels[k]}" for k in sorted(labels)) + "\x1f" + summary
    return "vigil-" + hashlib.sha256(material.encode()).hexdigest()[:32]
