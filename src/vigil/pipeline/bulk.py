"""Set-based INSERT and UPDATE for the ingest hot path, straight to the driver's
executemany. SQLAlchemy's per-row parameter processing cost more than SQLite's own work;
here only the columns that need it are adapted, the same way the ORM types store them (UTC
text on SQLite, JSON via orjson), so rows written either way read back the same."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Boolean, Connection, Table

from vigil.db import UTCDateTime

_JSON_OPTS = orjson.OPT_NON_STR_KEYS


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=_JSON_OPTS).decode()


def _adapter(conn: Connection, table: Table,
             cols: Sequence[str]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """Adapts a row of values in ``cols`` order (in place) and gives it as a tuple."""
    sqlite = conn.dialect.name == "sqlite"
    times = [i for i, c in enumerate(cols) if isinstance(table.c[c].type, UTCDateTime)]
    jsons = [i for i, c in enumerate(cols) if isinstance(table.c[c].type, JSON)]
    # One batch repeats the same few datetime objects (its ``now``); they stay alive while
    # the rows hold them, so their ids are unique keys for this call.
    texts: dict[int, str] = {}

    def sqlite_time(v: datetime) -> str:
        s = texts.get(id(v))
        if s is None:
            s = v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            texts[id(v)] = s
        return s

    def adapt(row: list[Any]) -> tuple[Any, ...]:
        if sqlite:
            for i in times:
                if row[i] is not None:
                    row[i] = sqlite_time(row[i])
            for i in jsons:
                row[i] = _json_text(row[i])
        else:
            for i in jsons:
                row[i] = Jsonb(row[i], dumps=_json_text)
        return tuple(row)

    return adapt


def insert_rows(conn: Connection, table: Table, cols: Sequence[str],
                rows: list[list[Any]]) -> None:
    """INSERT ``rows`` (value lists in ``cols`` order; adapted in place)."""
    if not rows:
        return
    adapt = _adapter(conn, table, cols)
    params = [adapt(row) for row in rows]
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in cols)}) "
           f"VALUES ({', '.join([mark] * len(cols))})")
    conn.exec_driver_sql(sql, params)


def update_rows(conn: Connection, table: Table, cols: Sequence[str], key: str,
                rows: list[list[Any]]) -> None:
    """UPDATE ``cols`` WHERE ``key`` = the last value of each row (values in ``cols`` order,
    then the key; adapted in place)."""
    if not rows:
        return
    adapt = _adapter(conn, table, [*cols, key])
    params = [adapt(row) for row in rows]
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    sql = (f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(c)} = {mark}' for c in cols)} "
           f"WHERE {quote(key)} = {mark}")
    conn.exec_driver_sql(sql, params)


def select_rows(conn: Connection, table: Table, cols: Sequence[str], where: str,
                params: Sequence[Any]) -> list[list[Any]]:
    """``SELECT cols FROM table WHERE where`` straight through the driver, values read back
    as the ORM types give them (aware UTC datetimes, parsed JSON). ``where`` marks its
    parameters with ``{p}``; give SQLite its lists as JSON text (``json_each``) and
    PostgreSQL as lists (``= ANY``)."""
    sqlite = conn.dialect.name == "sqlite"
    quote = conn.dialect.identifier_preparer.quote
    sql = (f"SELECT {', '.join(quote(c) for c in cols)} FROM {quote(table.name)} "
           f"WHERE {where.format(p='?' if sqlite else '%s')}")
    times = [i for i, c in enumerate(cols) if isinstance(table.c[c].type, UTCDateTime)]
    jsons = [i for i, c in enumerate(cols) if isinstance(table.c[c].type, JSON)]
    bools = [i for i, c in enumerate(cols) if isinstance(table.c[c].type, Boolean)]
    out = []
    parsed: dict[str, datetime] = {}
    for raw in conn.exec_driver_sql(sql, tuple(params)):
        row = list(raw)
        for i in times:
            v = row[i]
            if v is None:
                continue
            if sqlite:
                t = parsed.get(v)
                if t is None:
                    t = parsed[v] = datetime.fromisoformat(v).replace(tzinfo=UTC)
                row[i] = t
            else:
                row[i] = v.astimezone(UTC)
        if sqlite:
            for i in jsons:
                if row[i] is not None:
                    row[i] = orjson.loads(row[i])
            for i in bools:
                row[i] = bool(row[i])
        out.append(row)
    return out
