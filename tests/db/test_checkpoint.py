"""SQLite's WAL is checkpointed off the commit path and does not grow without end."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vigil.db.engine import Checkpointer, Database


def test_a_wal_past_its_limit_is_restarted_by_the_writer(tmp_path: Path) -> None:
    """Under sustained writes a PASSIVE checkpoint never finds the WAL fully copied when the
    next transaction starts (the writer is never idle); past the limit the checkpointer
    asks the writer, which RESTARTs it between batches, so the next write starts it afresh."""
    path = tmp_path / "vigil.db"
    db = Database(f"sqlite:///{path}")
    cp = db.checkpointer()
    assert cp is not None
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE filler (x BLOB)")
    for _ in range(20):
        writer.execute("INSERT INTO filler VALUES (randomblob(65536))")
    conn = sqlite3.connect(path, isolation_level=None)
    ran: list[str] = []
    conn.set_trace_callback(ran.append)

    cp.step(conn)  # under the limit: PASSIVE only, nothing asked of the writer
    assert "PRAGMA wal_checkpoint(PASSIVE)" in ran and not cp.restart_due.is_set()
    ran.clear()
    assert db.restart_wal_if_due() is False

    cp.wal_limit = 64 * 1024
    cp.step(conn)
    assert cp.restart_due.is_set()
    cp.step(conn)  # while the writer's RESTART is pending the checkpointer stands aside
    assert ran == ["PRAGMA wal_checkpoint(PASSIVE)"]

    assert db.restart_wal_if_due() is True
    assert not cp.restart_due.is_set()
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > cp.wal_limit  # the file stays large until the next write,
    cp.step(conn)  # but the frames in use are none: no second RESTART is asked for
    assert not cp.restart_due.is_set()
    writer.execute("INSERT INTO filler VALUES (randomblob(100))")
    _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames < 10  # the WAL started afresh
    assert writer.execute("SELECT count(*) FROM filler").fetchone()[0] == 21
    writer.close()
    conn.close()
    db.dispose()


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
