"""Generic JSON webhook: one object, or an array of objects, mapped to alerts by
JSON paths configured per integration, for any tool that can POST JSON."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parser as jsonpath_ext
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vigil.core.event import Action, AlertEvent
from vigil.core.severity import parse_severity
from vigil.errors import InvalidInput
from vigil.integrations.base import (
    DEFAULT_LIMITS,
    Limits,
    check_count,
    check_event,
    derived_key,
    invalid_from,
    str_map,
    text,
)

#: Where to look when the integration names no path for a field.
DEFAULT_PATHS: dict[str, tuple[str, ...]] = {
    "title": ("$.title", "$.name", "$.alertname", "$.message", "$.summary", "$.subject"),
    "severity": ("$.severity", "$.level", "$.priority"),
    "dedup_key": ("$.dedup_key", "$.fingerprint", "$.alias", "$.id", "$.key"),
    "service": ("$.service", "$.component", "$.app"),
    "status": ("$.status", "$.state"),
    "description": ("$.description", "$.details", "$.text", "$.body"),
    "environment": ("$.environment", "$.env"),
    "labels": ("$.labels", "$.tags"),
    "url": ("$.url", "$.link", "$.href"),
}

_RESOLVE = ["resolved", "resolve", "ok", "closed", "close", "recovered", "up", "normal",
            "inactive", "green", "success"]
_ACK = ["acknowledged", "acknowledge", "ack"]


def _compile(path: str) -> JSONPath:
    try:
        return jsonpath_ext.parse(path)
    except (JsonPathParserError, Exception) as exc:  # the library raises plain Exceptions too
        raise ValueError(f"not a valid JSON path: {exc}") from None


@lru_cache(maxsize=1024)
def compiled(path: str) -> JSONPath:
    return _compile(path)


class GenericConfig(BaseModel):
    """Per-integration mapping. Each field is a JSON path (``$.alert.title``)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    severity: str | None = None
    dedup_key: str | None = None
    service: str | None = None
    status: str | None = None
    description: str | None = None
    environment: str | None = None
    labels: str | None = None
    url: str | None = None
    resolve_values: list[str] = Field(default_factory=lambda: list(_RESOLVE))
    acknowledge_values: list[str] = Field(default_factory=lambda: list(_ACK))

    @field_validator("title", "severity", "dedup_key", "service", "status", "description",
                     "environment", "labels", "url")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        if v is not None:
            compiled(v)
        return v


def _first(obj: Any, paths: tuple[str, ...]) -> Any:
    for path in paths:
        found = compiled(path).find(obj)
        for match in found:
            if match.value not in (None, "", [], {}):
                return match.value
    return None


def _event(obj: dict[str, Any], cfg: GenericConfig, where: str, limits: Limits) -> AlertEvent:
    def get(name: str) -> Any:
        configured = getattr(cfg, name)
        return _first(obj, (configured,) if configured else DEFAULT_PATHS[name])

    title = get("title")
    if title is None or isinstance(title, dict | list):
        path = cfg.title or " or ".join(DEFAULT_PATHS["title"])
        raise InvalidInput(f"{where}: no title found at {path}", field=f"{where}.title")
    status = get("status")
    status_word = str(status).strip().lower() if status is not None else ""
    if status is True:
        status_word = "true"
    action = Action.TRIGGER
    if status_word in {v.lower() for v in cfg.resolve_values}:
        action = Action.RESOLVE
    elif status_word in {v.lower() for v in cfg.acknowledge_values}:
        action = Action.ACKNOWLEDGE
    raw_labels = get("labels")
    if isinstance(raw_labels, dict):
        labels = str_map(raw_labels)
    elif isinstance(raw_labels, list):
        labels = {str(t): "" for t in raw_labels}
    else:
        labels = {}
    service = get("service")
    key = get("dedup_key")
    identity = dict(labels)
    if service is not None:
        identity["service"] = str(service)
    dedup_key = str(key) if key is not None else derived_key(identity, str(title))
    url = get("url")
    description = get("description")
    environment = get("environment")
    name = str(title)
    return check_event(AlertEvent(
        action=action,
        source="generic",
        name=name,
        summary=name,
        severity=parse_severity(get("severity")),
        dedup_key=text(dedup_key, 512),
        description=None if description is None else description
        if isinstance(description, str) else str_map({"d": description})["d"],
        service=None if service is None else text(service, 200),
        environment=None if environment is None else text(environment, 100),
        labels=labels,
        links=[{"href": str(url), "text": "Source"}] if isinstance(url, str) else [],
        raw=obj,
    ), limits, where, name="title", summary="title",
        # A description that is not text is serialized here: cut, not refused.
        description="description" if isinstance(description, str) else None)


def parse(payload: Any, config: dict[str, Any],
          limits: Limits = DEFAULT_LIMITS) -> list[AlertEvent]:
    try:
        cfg = GenericConfig.model_validate(config or {})
    except ValidationError as exc:
        raise invalid_from(exc, "config") from None
    if isinstance(payload, list):
        check_count(payload, "body", limits)
        for i, item in enumerate(payload):
            if not isinstance(item, dict):
                raise InvalidInput(f"[{i}]: each alert must be a JSON object", field=f"[{i}]")
    elif not isinstance(payload, dict):
        raise InvalidInput("body must be a JSON object or an array of objects", field="body")
    body: dict[str, Any] | list[dict[str, Any]] = payload
    items = body if isinstance(body, list) else [body]
    if not items:
        raise InvalidInput("the array holds no alerts", field="body")
    many = isinstance(body, list)
    return [_event(obj, cfg, f"[{i}]" if many else "body", limits)
            for i, obj in enumerate(items)]


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    try:
        return GenericConfig.model_validate(config).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise invalid_from(exc, "config") from None


