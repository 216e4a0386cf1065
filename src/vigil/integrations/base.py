"""What every inbound parser shares: turning validation errors into 4xx that name the field."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

import orjson
from pydantic import AfterValidator, ValidationError

from vigil.clock import ensure_utc
from vigil.core.event import AlertEvent
from vigil.errors import InvalidInput


class Limits(Protocol):
    """What one inbound alert may hold (``Settings`` has these, as ``VIGIL_INGEST_*``)."""

    @property
    def ingest_max_alerts(self) -> int: ...
    @property
    def ingest_max_labels(self) -> int: ...
    @property
    def ingest_max_label_name_chars(self) -> int: ...
    @property
    def ingest_max_label_value_chars(self) -> int: ...
    @property
    def ingest_max_name_chars(self) -> int: ...
    @property
    def ingest_max_summary_chars(self) -> int: ...
    @property
    def ingest_max_description_chars(self) -> int: ...
    @property
    def ingest_max_annotations(self) -> int: ...
    @property
    def ingest_max_links(self) -> int: ...


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """The default limits (the same as ``Settings``'s defaults)."""

    ingest_max_alerts: int = 1_000
    ingest_max_labels: int = 128
    ingest_max_label_name_chars: int = 256
    ingest_max_label_value_chars: int = 4_096
    ingest_max_name_chars: int = 1_024
    ingest_max_summary_chars: int = 4_096
    ingest_max_description_chars: int = 32_768
    ingest_max_annotations: int = 128
    ingest_max_links: int = 32


DEFAULT_LIMITS: Limits = IngestLimits()

#: Parsers take the payload, the integration's config and the limits to hold it to.
Parser = Callable[[Any, dict[str, Any], Limits], list[AlertEvent]]

#: The stored alert name's column width: a longer (accepted) name is cut to it.
NAME_COLUMN = 512

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


# --- Limits -------------------------------------------------------------------------------

def _at(where: str, path: str) -> str:
    if not path:
        return where or "body"
    if not where:
        return path
    return f"{where}.{path}"


def _refuse(field: str, what: str, limit: int, setting: str) -> InvalidInput:
    msg = f"{what}; at most {limit} (VIGIL_{setting.upper()})"
    return InvalidInput(f"{field}: {msg}", field=field, details=[{"field": field, "message": msg}])


def check_count(items: list[Any], field: str, lim: Limits) -> None:
    """A request's number of alerts, checked before they are validated one by one."""
    if len(items) > lim.ingest_max_alerts:
        raise _refuse(field, f"{len(items)} alerts in one request", lim.ingest_max_alerts,
                      "ingest_max_alerts")


def check_length(value: str, field: str, limit: int, setting: str) -> None:
    """One text a parser puts into the event under another name (``setting``: the
    ``Limits`` attribute it is held to)."""
    if len(value) > limit:
        raise _refuse(field, f"{len(value)} characters", limit, setting)


def _check_map(values: dict[str, str], prefix: str, kind: str, max_count: int,
               count_setting: str, max_key: int, max_value: int, value_setting: str) -> None:
    field = prefix or "body"
    if len(values) > max_count:
        raise _refuse(field, f"{len(values)} {kind}s", max_count, count_setting)
    for k, v in values.items():
        if len(k) > max_key:
            raise _refuse(field, f"a {kind} name of {len(k)} characters ({k[:40]!r}...)",
                          max_key, "ingest_max_label_name_chars")
        if len(v) > max_value:
            raise _refuse(f"{prefix}.{k}" if prefix else k, f"{len(v)} characters", max_value,
                          value_setting)


def check_event(ev: AlertEvent, lim: Limits, where: str = "", *, name: str | None = None,
                summary: str | None = None, description: str | None = None,
                labels: str = "labels", annotations: str = "annotations",
                links: str = "links") -> AlertEvent:
    """Hold an event to the ingest limits: a 422 naming the payload's field, else the event
    (its name cut to the stored width). ``where`` is the alert's place in the payload
    (``alerts[3]``); the keywords say where each part of the event came from in it. A name,
    summary or description given no path was derived (a fallback from another field): it is
    cut to the limit rather than refused. Only lengths are looked at; the label and
    annotation maps are walked once (after their size is known to be small)."""
    if ev.labels:
        _check_map(ev.labels, _at(where, labels) if labels else where, "label",
                   lim.ingest_max_labels, "ingest_max_labels", lim.ingest_max_label_name_chars,
                   lim.ingest_max_label_value_chars, "ingest_max_label_value_chars")
    if ev.annotations:
        _check_map(ev.annotations, _at(where, annotations) if annotations else where,
                   "annotation",
                   lim.ingest_max_annotations, "ingest_max_annotations",
                   lim.ingest_max_label_name_chars, lim.ingest_max_description_chars,
                   "ingest_max_description_chars")
    if len(ev.links) > lim.ingest_max_links:
        raise _refuse(_at(where, links), f"{len(ev.links)} links", lim.ingest_max_links,
                      "ingest_max_links")
    limit = lim.ingest_max_name_chars
    if len(ev.name) > limit and name is not None:
        raise _refuse(_at(where, name), f"an alert name of {len(ev.name)} characters", limit,
                      "ingest_max_name_chars")
    if len(ev.name) > NAME_COLUMN:
        ev.name = text(ev.name, NAME_COLUMN)
    limit = lim.ingest_max_summary_chars
    if len(ev.summary) > limit:
        if summary is not None:
            raise _refuse(_at(where, summary), f"{len(ev.summary)} characters", limit,
                          "ingest_max_summary_chars")
        ev.summary = text(ev.summary, limit)
    limit = lim.ingest_max_description_chars
    if ev.description is not None and len(ev.description) > limit:
        if description is not None:
            raise _refuse(_at(where, description), f"{len(ev.description)} characters", limit,
                          "ingest_max_description_chars")
        ev.description = text(ev.description, limit)
    return ev
