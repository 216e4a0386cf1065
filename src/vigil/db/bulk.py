"""Set-based INSERT and UPDATE for the ingest hot path, straight to the driver's
executemany. SQLAlchemy's per-row parameter processing cost more than SQLite's own work;
here only the columns that need it are adapted, the same way the ORM types store them (UTC
text on SQLite, JSON via orjson), so rows written either way read back the same."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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


#: Turns rows (or objects) into the driver's parameter tuples: ``convert(items, texts)``.
_Convert = Callable[[Iterable[Any], dict[datetime, str]], list[tuple[Any, ...]]]
_CONVERTERS: dict[tuple[Any, ...], _Convert] = {}


def _converter(conn: Connection, table: Table, cols: Sequence[str], *, objects: bool,
               const: Mapping[str, Any] | None = None) -> _Convert:
    """The conversion of items to parameter tuples for ``cols``, generated once per shape
    as one list comprehension (a function call or a loop over the columns per row cost
    more than the conversions themselves). Items are sequences in ``cols`` order, or with
    ``objects`` objects with those attributes; ``const`` gives columns one value for every
    row, adapted once. SQLite: times as UTC text (each distinct one formatted once per
    call: datetimes cache their hash), JSON as text; PostgreSQL: JSON wrapped for
    psycopg."""
    const = const or {}
    dialect = conn.dialect.name
    # (The constants' values are part of the shape: they are baked into the code.)
    key = (dialect, table.name, tuple(cols), objects,
           tuple(sorted((k, repr(v)) for k, v in const.items())))
    convert = _CONVERTERS.get(key)
    if convert is not None:
        return convert
    shape = _shape(conn, table, cols)
    namespace: dict[str, Any] = {"utc_text": _utc_text, "dumps": orjson.dumps,
                                 "opts": _JSON_OPTS, "Jsonb": Jsonb, "json_text": _json_text}
    parts = []
    for i, col in enumerate(cols):
        value = f"row.{col}" if objects else f"row[{i}]"
        if col in const:
            v = const[col]
            if i in shape.jsons:
                v = _json_text(v) if dialect == "sqlite" else Jsonb(v, dumps=_json_text)
            elif i in shape.times and dialect == "sqlite" and v is not None:
                v = _utc_text({}, v)
            namespace[f"c{i}"] = v
            parts.append(f"c{i}")
        elif i in shape.jsons:
            parts.append(f"dumps({value}, option=opts).decode()" if dialect == "sqlite"
                         else f"Jsonb({value}, dumps=json_text)")
        elif i in shape.times and dialect == "sqlite":
            parts.append(f"(None if (v{i} := {value}) is None else "
                         f"(texts.get(v{i}) or utc_text(texts, v{i})))")
        else:
            parts.append(value)
    source = ("def convert(items, texts):\n"
              f"    return [({', '.join(parts)},) for row in items]\n")
    exec(compile(source, f"<bulk {dialect} {table.name} {len(cols)}>", "exec"), namespace)
    made: _Convert = namespace["convert"]
    _CONVERTERS[key] = made
    return made


def insert_rows(conn: Connection, table: Table, cols: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` (values in ``cols`` order)."""
    if rows:
        _insert(conn, table, cols, _converter(conn, table, cols, objects=False)(rows, {}))


def insert_objects(conn: Connection, table: Table, cols: Sequence[str], objs: Sequence[Any],
                   const: Mapping[str, Any] | None = None) -> None:
    """INSERT a row per object, its ``cols`` read from the attributes of the same names
    (except those ``const`` gives one value for all)."""
    if objs:
        convert = _converter(conn, table, cols, objects=True, const=const)
        _insert(conn, table, cols, convert(objs, {}))


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
        convert = _converter(conn, table, [*cols, key], objects=False)
        _update(conn, table, cols, key, convert(rows, {}))


def update_objects(conn: Connection, table: Table, cols: Sequence[str], key: str,
                   objs: Sequence[Any]) -> None:
    """UPDATE ``cols`` of each object's row (``key`` and the columns read from the
    attributes of the same names)."""
    if objs:
        convert = _converter(conn, table, [*cols, key], objects=True)
        _update(conn, table, cols, key, convert(objs, {}))


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
