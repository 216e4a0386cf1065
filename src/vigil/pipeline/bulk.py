"""Set-based INSERT and UPDATE for the ingest hot path, straight to the driver's
executemany. SQLAlchemy's per-row parameter processing cost more than SQLite's own work;
here only the columns that need it are adapted, the same way the ORM types store them (UTC
text on SQLite, JSON via orjson), so rows written either way read back the same."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Boolean, Connection, Table

from vigil.db import UTCDateTime

_JSON_OPTS = orjson.OPT_NON_STR_KEYS


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=_JSON_OPTS).decode()


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the hot path needs to know of some columns of a table, worked out once."""

    times: tuple[int, ...]  # positions of UTC datetime columns
    jsons: tuple[int, ...]
    bools: tuple[int, ...]
    quoted: tuple[str, ...]  # the column names, quoted for the dialect


_SHAPES: dict[tuple[str, str, tuple[str, ...]], _Shape] = {}
_SQL: dict[tuple[str, str, str, tuple[str, ...], str], str] = {}


def _shape(conn: Connection, table: Table, cols: Sequence[str]) -> _Shape:
    key = (conn.dialect.name, table.name, tuple(cols))
    shape = _SHAPES.get(key)
    if shape is None:
        types = [table.c[c].type for c in cols]
        quote = conn.dialect.identifier_preparer.quote
        shape = _SHAPES[key] = _Shape(
            times=tuple(i for i, t in enumerate(types) if isinstance(t, UTCDateTime)),
            jsons=tuple(i for i, t in enumerate(types) if isinstance(t, JSON)),
            bools=tuple(i for i, t in enumerate(types) if isinstance(t, Boolean)),
            quoted=tuple(quote(c) for c in cols))
    return shape


def _sql(conn: Connection, kind: str, table: Table, cols: Sequence[str], extra: str,
         build: Callable[[str, str, tuple[str, ...]], str]) -> str:
    """The statement text of ``kind`` for these columns, built once per dialect."""
    key = (conn.dialect.name, kind, table.name, tuple(cols), extra)
    sql = _SQL.get(key)
    if sql is None:
        quote = conn.dialect.identifier_preparer.quote
        sql = _SQL[key] = build("?" if conn.dialect.name == "sqlite" else "%s",
                                quote(table.name), _shape(conn, table, cols).quoted)
    return sql


def _adapter(conn: Connection, table: Table,
             cols: Sequence[str]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """Adapts a row of values in ``cols`` order (in place) and gives it as a tuple."""
    shape = _shape(conn, table, cols)
    times, jsons = shape.times, shape.jsons
    dumps = orjson.dumps
    if conn.dialect.name != "sqlite":
        def adapt_pg(row: list[Any]) -> tuple[Any, ...]:
            for i in jsons:
                row[i] = Jsonb(row[i], dumps=_json_text)
            return tuple(row)
        return adapt_pg
    # A batch repeats the same few times (its ``now``, the sources' start times): each is
    # formatted once per call. Datetimes cache their hash, so keying by value is cheap.
    texts: dict[datetime, str] = {}

    def adapt(row: list[Any]) -> tuple[Any, ...]:
        for i in times:
            v = row[i]
            if v is not None:
                s = texts.get(v)
                if s is None:
                    s = texts[v] = v.astimezone(UTC).replace(tzinfo=None).isoformat(
                        " ", "microseconds")
                row[i] = s
        for i in jsons:
            v = row[i]
            row[i] = "{}" if v == {} else dumps(v, option=_JSON_OPTS).decode()
        return tuple(row)

    return adapt


def insert_rows(conn: Connection, table: Table, cols: Sequence[str],
                rows: list[list[Any]]) -> None:
    """INSERT ``rows`` (value lists in ``cols`` order; adapted in place)."""
    if not rows:
        return
    adapt = _adapter(conn, table, cols)
    params = [adapt(row) for row in rows]
    sql = _sql(conn, "insert", table, cols, "", lambda mark, name, quoted: (
        f"INSERT INTO {name} ({', '.join(quoted)}) VALUES ({', '.join([mark] * len(quoted))})"))
    conn.exec_driver_sql(sql, params)


def update_rows(conn: Connection, table: Table, cols: Sequence[str], key: str,
                rows: list[list[Any]]) -> None:
    """UPDATE ``cols`` WHERE ``key`` = the last value of each row (values in ``cols`` order,
    then the key; adapted in place)."""
    if not rows:
        return
    adapt = _adapter(conn, table, [*cols, key])
    params = [adapt(row) for row in rows]
    sql = _sql(conn, "update", table, [*cols, key], "", lambda mark, name, quoted: (
        f"UPDATE {name} SET {', '.join(f'{q} = {mark}' for q in quoted[:-1])} "
        f"WHERE {quoted[-1]} = {mark}"))
    conn.exec_driver_sql(sql, params)


def select_rows(conn: Connection, table: Table, cols: Sequence[str], where: str,
                params: Sequence[Any]) -> list[list[Any]]:
    """``SELECT cols FROM table WHERE where`` straight through the driver, values read back
    as the ORM types give them (aware UTC datetimes, parsed JSON). ``where`` marks its
    parameters with ``{p}``; give SQLite its lists as JSON text (``json_each``) and
    PostgreSQL as lists (``= ANY``)."""
    sqlite = conn.dialect.name == "sqlite"
    sql = _sql(conn, "select", table, cols, where, lambda mark, name, quoted: (
        f"SELECT {', '.join(quoted)} FROM {name} WHERE {where.format(p=mark)}"))
    shape = _shape(conn, table, cols)
    times, jsons, bools = shape.times, shape.jsons, shape.bools
    out = []
    parsed: dict[str, datetime] = {}
    # Straight from the driver's cursor, in the connection's transaction: SQLAlchemy's
    # result rows cost more per row than the query itself.
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(params))
        fetched = cursor.fetchall()
    finally:
        cursor.close()
    for raw in fetched:
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
