"""``column IN <a list bound as ONE parameter>``: a JSON array through ``json_each`` on
SQLite, ``= ANY(array)`` on PostgreSQL. For the batch's big IN lists (fingerprints, group
keys), where an expanding parameter would render and bind one placeholder per value."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, String, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY

DIALECTS = ("sqlite", "postgresql")


def in_array(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column == func.any(bindparam(name, type_=ARRAY(String)))
    values: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam(name)))
    return column.in_(values.scalar_subquery())


def array(dialect: str, values: Iterable[Any]) -> Any:
    items = sorted(values)
    return items if dialect == "postgresql" else orjson.dumps(items).decode()


def per_dialect(build: Callable[[str], Any]) -> dict[str, Any]:
    """One prebuilt statement per dialect."""
    return {d: build(d) for d in DIALECTS}
