"""Set-based INSERT and UPDATE for ingest, straight to the driver's
executemany. SQLAlchemy's per-row parameter processing cost more than SQLite's own work;
here only the columns that need it are adapted, the same way the ORM types store them (UTC
text on SQLite, JSON via orjson), so rows written either way read back the same."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
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
    """What the statements need to know of some columns of a table, worked out once."""

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


def _utc_text(v: datetime) -> str:
    return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _params(conn: Connection, table: Table, cols: Sequence[str], items: Iterable[Any], *,
            objects: bool, const: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """The driver's parameter tuples for ``items``: sequences in ``cols`` order, or with
    ``objects`` objects with those attributes (``const`` gives columns one value for every
    object). Stored the way the ORM types store them: on SQLite times as UTC text and JSON as
    text; on PostgreSQL JSON wrapped for psycopg."""
    sqlite = conn.dialect.name == "sqlite"
    shape = _shape(conn, table, cols)
    fixed = [(cols.index(c), v) for c, v in (const or {}).items()]
    read = attrgetter(*cols)
    texts: dict[datetime, str] = {}  # a batch's rows share a few times: format each once
    out = []
    for item in items:
        if not objects:
            row = list(item)
        elif len(cols) > 1:
            row = list(read(item))
        else:
            row = [read(item)]
        for i, v in fixed:
            row[i] = v
        for i in shape.jsons:
            row[i] = _json_text(row[i]) if sqlite else Jsonb(row[i], dumps=_json_text)
        if sqlite:
            for i in shape.times:
                v = row[i]
                if v is not None:
                    text = texts.get(v)
                    if text is None:
                        text = texts[v] = _utc_text(v)
                    row[i] = text
        out.append(tuple(row))
    return out


def insert_rows(conn: Connection, table: Table, cols: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` (values in ``cols`` order)."""
    if rows:
        _insert(conn, table, cols, _params(conn, table, cols, rows, objects=False))


def insert_objects(conn: Connection, table: Table, cols: Sequence[str], objs: Sequence[Any],
                   const: Mapping[str, Any] | None = None) -> None:
    """INSERT a row per object, its ``cols`` read from the attributes of the same names
    (except those ``const`` gives one value for all)."""
    if objs:
        _insert(conn, table, cols, _params(conn, table, cols, objs, objects=True,
                                           const=const))


def _insert(conn: Connection, table: Table, cols: Sequence[str],
            params: list[tuple[Any, ...]]) -> None:
    sql = _sql(conn, "insert", table, cols, "", lambda mark, name, quoted: (
        f"INSERT INTO {name} ({', '.join(quoted)}) VALUES ({', '.join([mark] * len(quoted))})"))
    conn.exec_driver_sql(sql, params)


def update_rows(conn: Connection, table: Table, cols: Sequence[str], key: str,
                rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE ``cols`` WHERE ``key`` = the last value of each row (values in ``cols`` order,
    then the key)."""
    if rows:
        _update(conn, table, cols, key,
                _params(conn, table, [*cols, key], rows, objects=False))


def update_objects(conn: Connection, table: Table, cols: Sequence[str], key: str,
                   objs: Sequence[Any]) -> None:
    """UPDATE ``cols`` of each object's row (``key`` and the columns read from the
    attributes of the same names)."""
    if objs:
        _update(conn, table, cols, key,
                _params(conn, table, [*cols, key], objs, objects=True))


def _update(conn: Connection, table: Table, cols: Sequence[str], key: str,
            params: list[tuple[Any, ...]]) -> None:
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
