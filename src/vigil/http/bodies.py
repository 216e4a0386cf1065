"""Request bodies of the JSON API: a body that is not a JSON object is a 400 naming
``body`` (the error shape of docs/api.md), before FastAPI validates the fields.

Without this, FastAPI answers malformed JSON, an empty body and a JSON array or string where
an object is expected with a 422 whose field is a character offset or ``body``. The routers
that read JSON bodies (on-call, notifications, maintenance and inhibition, assignment and
severity rules, silences, correlation rules) use ``JsonObjectRoute`` as their route class:
the body is read and parsed once here (Starlette keeps both), so the endpoint's own parsing
costs nothing more.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from vigil.errors import MalformedBody


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


async def check_body(request: Request, *, expects_object: bool) -> None:
    """MalformedBody (400, ``field: body``) unless the body is a JSON object.

    ``expects_object``: the endpoint takes a JSON body, so it must be there, be sent as
    JSON and parse to an object. Otherwise (no body, or a body of its own such as an
    iCalendar file) only a body sent as JSON is checked, and an empty one is fine."""
    raw = await request.body()
    content_type = request.headers.get("content-type")
    if not raw.strip():
        if expects_object:
            raise MalformedBody("the request body is empty; send a JSON object", field="body")
        return
    if not _is_json(content_type):
        if expects_object:
            raise MalformedBody(f"send the body as JSON (Content-Type: application/json), "
                                f"not {content_type or 'without a Content-Type'}",
                                field="body")
        return
    try:
        data = await request.json()
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedBody(f"malformed JSON: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise MalformedBody(f"expected a JSON object, got {_kind(data)}", field="body")


class JsonObjectRoute(APIRoute):
    """An ``APIRoute`` whose request body, when there is one, must be a JSON object.

    An endpoint whose body fields all have defaults (``address: str = Body("")``) may be
    called without a body; a body sent as JSON must still be an object."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        expects_object = (self.body_field is not None
                          and self.body_field.field_info.is_required())

        async def checked(request: Request) -> Response:
            await check_body(request, expects_object=expects_object)
            if not expects_object and not (await request.body()).strip():
                # Blank is no body, as check_body reads it (FastAPI would parse the blanks
                # as JSON and fail). Starlette keeps the body it read in ``_body``.
                request._body = b""
            return await handler(request)

        return checked
