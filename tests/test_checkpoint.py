"""SQLite's WAL is checkpointed off the commit path and does not grow without end."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vigil.db import Checkpointer, Database


def _step(path: Path, wal_limit: int) -> tuple[list[str], int]:
    """One checkpointer step over a WAL holding 20 x 64 KiB of writes: the checkpoint
    statements it ran, and the frames in the WAL after one more small write."""
    cp = Checkpointer(str(path), wal_limit=wal_limit)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE filler (x BLOB)")
    for _ in range(20):
        writer.execute("INSERT INTO filler VALUES (randomblob(65536))")
    assert cp.wal_bytes() > 20 * 65536
    conn = sqlite3.connect(path, isolation_level=None)
    ran: list[str] = []
    conn.set_trace_callback(ran.append)
    cp.step(conn)  # what the checkpointer thread does each interval
    conn.set_trace_callback(None)
    writer.execute("INSERT INTO filler VALUES (randomblob(100))")
    _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert writer.execute("SELECT count(*) FROM filler").fetchone()[0] == 21
    writer.close()
    conn.close()
    return ran, int(frames)


def test_a_wal_past_its_limit_is_restarted_after_the_passive_checkpoint(tmp_path: Path) -> None:
    # Under sustained writes a PASSIVE checkpoint never finds the WAL fully copied when the
    # next transaction starts (the writer is never idle), so past the limit a RESTART
    # checkpoint makes the next transaction start the WAL afresh.
    ran, _ = _step(tmp_path / "a.db", wal_limit=10**12)
    assert ran == ["PRAGMA wal_checkpoint(PASSIVE)"]
    ran, frames = _step(tmp_path / "b.db", wal_limit=64 * 1024)
    assert ran == ["PRAGMA wal_checkpoint(PASSIVE)", "PRAGMA wal_checkpoint(RESTART)"]
    assert frames < 10


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
