"""SQLite's WAL is checkpointed off the commit path and does not grow without end."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vigil.db import Checkpointer, Database


def _wal_after_step(path: Path, wal_limit: int) -> int:
    cp = Checkpointer(str(path), wal_limit=wal_limit)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE filler (x BLOB)")
    for _ in range(20):
        writer.execute("INSERT INTO filler VALUES (randomblob(65536))")
    conn = sqlite3.connect(path, isolation_level=None)
    before = cp.wal_bytes()
    assert before > 20 * 65536
    cp.step(conn)  # what the checkpointer thread does each interval
    after = cp.wal_bytes()
    assert writer.execute("SELECT count(*) FROM filler").fetchone()[0] == 20
    writer.close()
    conn.close()
    return after


def test_a_wal_past_its_limit_is_truncated_after_the_passive_checkpoint(tmp_path: Path) -> None:
    # Under sustained writes a PASSIVE checkpoint never finds the WAL fully copied when the
    # next transaction starts, so only a TRUNCATE checkpoint shrinks it.
    assert _wal_after_step(tmp_path / "a.db", wal_limit=10**12) > 20 * 65536
    assert _wal_after_step(tmp_path / "b.db", wal_limit=64 * 1024) == 0


def test_postgres_has_no_checkpointer() -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert db.checkpointer() is None
    db.dispose()


def test_checkpointer_thread_starts_and_stops(tmp_path: Path) -> None:
    cp = Checkpointer(str(tmp_path / "x.db"), interval=0.01)
    sqlite3.connect(tmp_path / "x.db").execute("PRAGMA journal_mode=WAL").fetchall()
    cp.start()
    cp.stop()
    assert cp._thread is None
