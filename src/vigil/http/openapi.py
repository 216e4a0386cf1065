"""What ``/openapi.json`` declares beyond FastAPI's defaults: every answer an operation gives.

FastAPI documents a 422 as its own ``HTTPValidationError`` (``{"detail": [...]}``), which
Vigil never sends (``app.validation_error`` answers in the shape of ``errors.VigilError``),
and documents no other error at all. This replaces that 422 and adds one ``4XX`` answer to
every operation, so clients (and the API fuzzer, ``tests/http/test_api_fuzz.py``) can rely on the
schema for every answer but a server error.

The ingest routes also declare their 503 (the queue is full: retry after ``Retry-After``).
The Opsgenie and PagerDuty compatible routes answer as those services do: 202 and errors in
their own shapes. A request that matches no route at all (say an Opsgenie identifier with a
line break, which the ``{identifier:path}`` route does not match) gets Vigil's own 404.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="invalid_input, malformed_body, not_found, conflict, ...")
    message: str
    field: str | None = Field(default=None, description="the field, parameter or header "
                                                        "that was wrong (a.b[0].c)")
    details: list[dict[str, Any]] = Field(default_factory=list,
                                          description="every problem found, when several")


class ErrorBody(BaseModel):
    """What every error answer of the API holds (docs/api.md)."""

    error: ErrorDetail


class OpsgenieError(BaseModel):
    """An error of the Opsgenie compatible routes, in Opsgenie's shape."""

    message: str
    took: float
    requestId: str  # Opsgenie's name
    errors: dict[str, str] = Field(default_factory=dict, description="field -> problem")


class OpsgenieAccepted(BaseModel):
    result: str
    took: float
    requestId: str


class PagerDutyError(BaseModel):
    """An error of the PagerDuty Events API v2 compatible routes, in PagerDuty's shape."""

    status: str
    message: str
    errors: list[str] = Field(default_factory=list)


class PagerDutyAccepted(BaseModel):
    status: str
    message: str
    dedup_key: str


_OPSGENIE = ("/v2/alerts", "/api/v1/ingest/opsgenie/")
_PAGERDUTY = ("/v2/enqueue", "/api/v1/ingest/pagerduty/")
_INGEST = ("/api/v1/ingest/", "/v2/")
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})

_CLIENT_ERRORS = ("A client error (400 malformed body, 401 no or unknown key, 403 role too "
                  "low, 404 unknown object, 409 state or name conflict, 413 body too large, "
                  "422 invalid field): the body names the field")


def _json(model: type[BaseModel] | None = None, *, other: type[BaseModel] | None = None,
          ) -> dict[str, Any]:
    schema: dict[str, Any] = {} if model is None else _ref(model)
    if model is not None and other is not None:
        schema = {"anyOf": [_ref(model), _ref(other)]}
    return {"application/json": {"schema": schema}}


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _answers(path: str, responses: dict[str, Any]) -> list[type[BaseModel]]:
    """Declares the answers of the operation at ``path`` in ``responses``; returns the
    models it refers to."""
    errors: type[BaseModel] = ErrorBody
    accepted: type[BaseModel] | None = None
    if path.startswith(_OPSGENIE):
        errors, accepted = OpsgenieError, OpsgenieAccepted
    elif path.startswith(_PAGERDUTY):
        errors, accepted = PagerDutyError, PagerDutyAccepted
    if accepted is not None:
        responses.pop("200", None)
        responses["202"] = {"description": "Accepted: the event is stored",
                            "content": _json(accepted)}
    # A compatible route's own errors, or Vigil's 404 for a path no route matches.
    content = _json(errors, other=ErrorBody if errors is not ErrorBody else None)
    responses["422"] = {"description": "A field, parameter or header is invalid",
                        "content": content}
    responses.setdefault("4XX", {"description": _CLIENT_ERRORS, "content": content})
    if path.startswith(_INGEST):
        responses.setdefault("503", {
            "description": "Overloaded: the queue is full; retry after Retry-After seconds",
            "content": _json(errors if accepted is not None else ErrorBody)})
    return [m for m in (errors, accepted, ErrorBody) if m is not None]


def declare_answers(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (FastAPI's) with every answer of every operation declared."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    used: set[type[BaseModel]] = set()
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method in _HTTP_METHODS:
                used.update(_answers(path, operation.setdefault("responses", {})))
    for model in sorted(used, key=lambda m: m.__name__):
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definition.pop("$defs", {}))
        components[model.__name__] = definition
    paths = json.dumps(schema.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{unused}"' not in paths:
            components.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """Serve ``declare_answers`` of FastAPI's schema at ``/openapi.json`` (built once)."""
    built = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_answers(built())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
