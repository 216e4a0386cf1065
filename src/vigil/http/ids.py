"""Ids as the API takes them. An id outside what its table's id column can hold names
nothing: it is refused up front as a 422 naming the parameter, instead of reaching the
database driver (which overflows: a 500).

Alerts, incidents and what grows with them (deliveries, escalations) have 64-bit ids;
configuration (users, teams, schedules, rules, channels, keys ...) has 32-bit ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1

_ID = f"an id (1 .. {MAX_ID})"
_BIG_ID = f"an id (1 .. {MAX_BIG_ID})"

#: The id of a configuration object in a URL path: ``/api/v1/schedules/{schedule_id}``.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=_ID)]
#: The id of an alert or incident in a URL path: ``/api/v1/incidents/{incident_id}``.
BigIdPath = Annotated[int, Path(ge=1, le=MAX_BIG_ID, description=_BIG_ID)]
#: Optional ids in a query string: ``?integration_id=3``, ``?incident_id=7``.
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description=_ID)]
BigIdQuery = Annotated[int | None, Query(ge=1, le=MAX_BIG_ID, description=_BIG_ID)]
#: Ids in a request body (pydantic models): of a configuration object, of an alert or
#: incident.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
BigId = Annotated[int, Field(ge=1, le=MAX_BIG_ID)]
