"""Set-based INSERT and UPDATE for the ingest hot path, straight to the driver's
executemany. SQLAlchemy's per-row parameter processing cost more than SQLite's own work;
here values are adapted once, the same way the ORM types store them (UTC text on SQLite,
JSON via orjson), so rows written either way read back the same."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Table

_JSON_OPTS = orjson.OPT_NON_STR_KEYS


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=_JSON_OPTS).decode()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, dict | list):
        return _json_text(value)
    return value


def _pg_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return Jsonb(value, dumps=_json_text)
    return value


def _adapter(conn: Connection) -> tuple[Callable[[Any], Any], str]:
    if conn.dialect.name == "sqlite":
        return _sqlite_value, "?"
    return _pg_value, "%s"


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    adapt, mark = _adapter(conn)
    quote = conn.dialect.identifier_preparer.quote
    cols = list(rows[0])
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in cols)}) "
           f"VALUES ({', '.join([mark] * len(cols))})")
    conn.exec_driver_sql(sql, [tuple(adapt(r[c]) for c in cols) for r in rows])


def update_rows(conn: Connection, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    """UPDATE each row's columns WHERE ``key`` equals the row's ``key`` value."""
    if not rows:
        return
    adapt, mark = _adapter(conn)
    quote = conn.dialect.identifier_preparer.quote
    cols = [c for c in rows[0] if c != key]
    sql = (f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(c)} = {mark}' for c in cols)} "
           f"WHERE {quote(key)} = {mark}")
    conn.exec_driver_sql(sql, [tuple(adapt(r[c]) for c in (*cols, key)) for r in rows])
