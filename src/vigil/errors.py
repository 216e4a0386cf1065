"""Errors the edges map to HTTP answers. Every one names what was wrong."""

from __future__ import annotations

from typing import Any


class VigilError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or []

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return {"error": body}


class InvalidInput(VigilError):
    status_code = 422
    code = "invalid_input"


class MalformedBody(VigilError):
    status_code = 400
    code = "malformed_body"


class PayloadTooLarge(VigilError):
    status_code = 413
    code = "payload_too_large"


class Unauthorized(VigilError):
    status_code = 401
    code = "unauthorized"


class Forbidden(VigilError):
    status_code = 403
    code = "forbidden"


class NotFound(VigilError):
    status_code = 404
    code = "not_found"


class Conflict(VigilError):
    status_code = 409
    code = "conflict"


class RetryLater(VigilError):
    """An answer that tells the caller when to try again (``Retry-After``, seconds)."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(RetryLater):
    """Back-pressure: the caller should retry. 503, never 429 (Alertmanager drops 4xx)."""

    status_code = 503
    code = "overloaded"


class RateLimited(RetryLater):
    """Too many requests from one caller: 429."""

    status_code = 429
    code = "rate_limited"
