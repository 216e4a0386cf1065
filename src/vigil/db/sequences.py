"""Ids handed out before insert, so a batch can link its rows in one round trip."""

from __future__ import annotations

from sqlalchemy import Connection, Table, text


def allocate_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """``n`` fresh ids for ``table``. PostgreSQL: from the table's sequence, so nodes never
    clash. SQLite: after the current maximum, which is safe because writers hold the
    database's write lock (BEGIN IMMEDIATE) from before this read until commit."""
    if conn.dialect.name == "postgresql":
        return list(conn.execute(
            text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                 "FROM generate_series(1, :n)"), {"n": n}
        ).scalars())
    sql = _MAX_ID.get(table.name)
    if sql is None:
        quote = conn.dialect.identifier_preparer.quote
        sql = _MAX_ID[table.name] = f"SELECT coalesce(max(id), 0) FROM {quote(table.name)}"
    start = int(conn.exec_driver_sql(sql).scalar_one()) + 1
    return list(range(start, start + n))


_MAX_ID: dict[str, str] = {}
