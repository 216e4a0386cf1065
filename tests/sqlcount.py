"""Counting the statements a piece of code sends to the database, at the driver.

``StatementLog.attach(db)`` makes every new connection of the ``Database``'s engines (the
shared pool and, on SQLite, the writer's own) a counting one, and drops the pooled ones:

* SQLite: a ``sqlite3.Connection`` subclass whose cursors record ``execute``,
  ``executemany`` and ``executescript``, and whose ``commit``/``rollback`` record a
  COMMIT/ROLLBACK when a transaction is open (BEGIN is a statement SQLAlchemy sends);
* PostgreSQL: a ``psycopg.Connection`` subclass, likewise, which also records the BEGIN
  psycopg sends by itself before a transaction's first statement.

At the driver, not in SQLAlchemy's ``before_cursor_execute``: the hot path's reads
(``db.bulk.select_rows``) go straight to a driver cursor, which SQLAlchemy's events never
see. An ``executemany`` is one entry (one statement, one round trip on PostgreSQL, where
psycopg pipelines it). Statements are recorded only while ``counting()`` is open, from
any thread (the pipeline's writer, the API's thread pool).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import event

from vigil.db import Database

_SPACE = re.compile(r"\s+")


def _text(sql: Any) -> str:
    if isinstance(sql, bytes):
        sql = sql.decode()
    elif not isinstance(sql, str):
        sql = str(sql)
    one = _SPACE.sub(" ", sql).strip()
    return one if len(one) <= 140 else one[:137] + "..."


class StatementLog:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self._active = False
        self._lock = threading.Lock()
        self._sqlite = _sqlite_class(self)
        self._pg = _pg_class(self)

    def record(self, sql: Any, *, many: bool = False) -> None:
        if self._active:
            entry = _text(sql) + (" [executemany]" if many else "")
            with self._lock:
                self.statements.append(entry)

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        """Record what runs inside; the list is complete once the block ends."""
        with self._lock:
            self.statements = []
        out = self.statements
        self._active = True
        try:
            yield out
        finally:
            self._active = False

    @staticmethod
    def show(statements: list[str]) -> str:
        return "\n".join(f"  {n:2}. {s}" for n, s in enumerate(statements, 1))

    def attach(self, db: Database) -> StatementLog:
        seen: set[int] = set()
        for engine in (db.engine, db.write_engine):
            if id(engine.dialect) in seen:
                continue
            seen.add(id(engine.dialect))
            event.listen(engine, "do_connect", self._connect)
        db.dispose()  # pooled connections were not made by _connect
        return self

    def _connect(self, dialect: Any, _rec: Any, cargs: list[Any],
                 cparams: dict[str, Any]) -> Any:
        if dialect.name == "sqlite":
            return sqlite3.connect(*cargs, factory=self._sqlite, **cparams)
        return self._pg.connect(*cargs, **cparams)


def _sqlite_class(log: StatementLog) -> type[sqlite3.Connection]:
    class Cursor(sqlite3.Cursor):
        def execute(self, sql: str, parameters: Any = (), /) -> Any:
            log.record(sql)
            return super().execute(sql, parameters)

        def executemany(self, sql: str, seq: Any, /) -> Any:
            log.record(sql, many=True)
            return super().executemany(sql, seq)

        def executescript(self, script: str, /) -> Any:
            log.record(script)
            return super().executescript(script)

    class Connection(sqlite3.Connection):
        def cursor(self, factory: Any = Cursor) -> Any:
            return super().cursor(factory)

        # (These make a cursor in C, not through ``cursor()``.)
        def execute(self, sql: str, parameters: Any = (), /) -> Any:
            log.record(sql)
            return super().execute(sql, parameters)

        def executemany(self, sql: str, seq: Any, /) -> Any:
            log.record(sql, many=True)
            return super().executemany(sql, seq)

        def executescript(self, script: str, /) -> Any:
            log.record(script)
            return super().executescript(script)

        def commit(self) -> None:
            if self.in_transaction:
                log.record("COMMIT")
            super().commit()

        def rollback(self) -> None:
            if self.in_transaction:
                log.record("ROLLBACK")
            super().rollback()

    return Connection


def _pg_class(log: StatementLog) -> type[psycopg.Connection[Any]]:
    def begin(conn: psycopg.Connection[Any]) -> None:
        if not conn.autocommit and conn.info.transaction_status == pq.TransactionStatus.IDLE:
            log.record("BEGIN")  # sent by psycopg ahead of the statement

    class Cursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            begin(self.connection)
            log.record(query)
            return super().execute(query, params, **kw)

        def executemany(self, query: Any, params_seq: Any, **kw: Any) -> None:
            begin(self.connection)
            log.record(query, many=True)
            super().executemany(query, params_seq, **kw)

    class Connection(psycopg.Connection[Any]):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.cursor_factory = Cursor

        def commit(self) -> None:
            if self.info.transaction_status != pq.TransactionStatus.IDLE:
                log.record("COMMIT")
            super().commit()

        def rollback(self) -> None:
            if self.info.transaction_status != pq.TransactionStatus.IDLE:
                log.record("ROLLBACK")
            super().rollback()

    return Connection
