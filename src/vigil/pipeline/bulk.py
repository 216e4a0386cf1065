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


def _utc_text(texts: dict[datetime, str], v: datetime) -> str:
    s = texts[v] = v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return s


_Factory = Callable[[dict[datetime, str]], Callable[[Sequence[Any]], tuple[Any, ...]]]
_FACTORIES: dict[tuple[int, tuple[int, ...], tuple[int, ...]], _Factory] = {}


def _sqlite_factory(n: int, times: tuple[int, ...], jsons: tuple[int, ...]) -> _Factory:
    """An adapter for rows of ``n`` values, written out as one tuple expression (no loop
    over the columns, which cost more than the conversions themselves): times as UTC text,
    each distinct one formatted once per call (datetimes cache their hash); JSON as text."""
    key = (n, times, jsons)
    factory = _FACTORIES.get(key)
    if factory is None:
        parts = []
        for i in range(n):
            if i in times:
                parts.append(f"(None if (v{i} := row[{i}]) is None else "
                             f"(texts.get(v{i}) or utc_text(texts, v{i})))")
            elif i in jsons:
                parts.append(f"dumps(row[{i}], option=opts).decode()")
            else:
                parts.append(f"row[{i}]")
        source = ("def factory(texts):\n"
                  "    def adapt(row):\n"
                  f"        return ({', '.join(parts)},)\n"
                  "    return adapt\n")
        namespace: dict[str, Any] = {"utc_text": _utc_text, "dumps": orjson.dumps,
                                     "opts": _JSON_OPTS}
        exec(compile(source, f"<bulk adapter {key}>", "exec"), namespace)
        factory = _FACTORIES[key] = namespace["factory"]
    return factory


def _adapter(conn: Connection, table: Table,
             cols: Sequence[str]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """Adapts a row of values in ``cols`` order, as a new tuple."""
    shape = _shape(conn, table, cols)
    if conn.dialect.name == "sqlite":
        return _sqlite_factory(len(cols), shape.times, shape.jsons)({})
    jsons = shape.jsons

    def adapt_pg(row: Sequence[Any]) -> tuple[Any, ...]:
        out = list(row)
        for i in jsons:
            out[i] = Jsonb(out[i], dumps=_json_text)
        return tuple(out)

    return adapt_pg


def insert_rows(conn: Connection, table: Table, cols: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` (values in ``cols`` order)."""
    if not rows:
        return
    adapt = _adapter(conn, table, cols)
    params = [adapt(row) for row in rows]
    sql = _sql(conn, "insert", table, cols, "", lambda mark, name, quoted: (
        f"INSERT INTO {name} ({', '.join(quoted)}) VALUES ({', '.join([mark] * len(quoted))})"))
    conn.exec_driver_sql(sql, params)


def update_rows(conn: Connection, table: Table, cols: Sequence[str], key: str,
                rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE ``cols`` WHERE ``key`` = the last value of each row (values in ``cols`` order,
    then the key)."""
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
