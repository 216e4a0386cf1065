"""Keyset pagination shared by every list: sort by one column plus the id, and an opaque
cursor holding the last row's (value, id), so pages stay consistent while rows arrive."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import BigInteger, Integer, Select, SmallInteger, and_, or_
from sqlalchemy.orm import Session

from vigil.errors import InvalidInput

T = TypeVar("T")


def encode_cursor(value: Any, ident: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return base64.urlsafe_b64encode(orjson.dumps([value, ident])).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        value, ident = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if sort.endswith("_at"):
            value = datetime.fromisoformat(value)
            if value.utcoffset() is None:  # this API gives out UTC times only
                raise ValueError(value)
        elif not isinstance(value, int):
            raise ValueError(value)
        if not isinstance(ident, int):
            raise ValueError(ident)
        return value, ident
    except Exception:
        raise InvalidInput("cursor is not one this API gave out", field="cursor") from None


def _fits(col: Any, value: int) -> bool:
    """Whether ``value`` fits the integer column ``col`` on every database we run on."""
    kind = col.type
    bits = (16 if isinstance(kind, SmallInteger) else 64 if isinstance(kind, BigInteger)
            else 32 if isinstance(kind, Integer) else 64)
    return bool(-(2 ** (bits - 1)) <= value < 2 ** (bits - 1))


def keyset_page(
    session: Session, stmt: Select[T], *, sorts: dict[str, Any], id_col: Any, sort: str,
    limit: int, cursor: str | None,
) -> tuple[list[T], str | None]:
    """One page of ``stmt`` sorted by ``sort`` (a key of ``sorts``, ``-`` for descending)."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in sorts:
        raise InvalidInput(f"sort must be one of {', '.join(sorts)} (prefix - for descending)",
                           field="sort")
    col = sorts[key]
    if cursor:
        value, ident = decode_cursor(cursor, key)
        if not _fits(id_col, ident) or (isinstance(value, int) and not _fits(col, value)):
            # No row holds it (and the database would refuse to compare with it).
            raise InvalidInput("cursor is not one this API gave out", field="cursor")
        if col is id_col:
            stmt = stmt.where(id_col < ident if descending else id_col > ident)
        elif descending:
            stmt = stmt.where(or_(col < value, and_(col == value, id_col < ident)))
        else:
            stmt = stmt.where(or_(col > value, and_(col == value, id_col > ident)))
    order = [col.desc(), id_col.desc()] if descending else [col.asc(), id_col.asc()]
    rows = list(session.scalars(stmt.order_by(*order[: 1 if col is id_col else 2])
                                .limit(limit + 1)))
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = encode_cursor(getattr(rows[-1], key), getattr(rows[-1], "id"))  # noqa: B009
    return rows, nxt
