"""The kinds of document configuration files hold (``kind: Schedule``, ...): each domain
registers its own in its ``kinds`` module; ``configfiles`` loads, applies and exports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Kind:
    schema: type[BaseModel]
    #: (session, tenant_id, validated body, now) -> "created" | "updated" | "unchanged"
    apply: Callable[[Session, int, Any, datetime], str]
    #: (session, tenant_id) -> documents (without ``kind``)
    export: Callable[[Session, int], list[dict[str, Any]]]
    #: checks that need more than the schema (compiling CEL, parsing RRULEs, ...)
    check: Callable[[Any], None] = lambda body: None


KINDS: dict[str, Kind] = {}


def register(name: str, kind: Kind) -> None:
    KINDS[name] = kind
