"""The engine and its sessions: SQLite (WAL, one writer, checkpoints) or PostgreSQL."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


#: The SQLite database and its -wal and -shm files: readable and writable by the owner only.
PRIVATE_MODE = 0o600
_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def sqlite_path(url: str | URL) -> str | None:
    """The file a SQLite URL names, or None (not SQLite, or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database.startswith("file:"):  # a URI filename (?uri=true)
        database, _, query = database[len("file:"):].partition("?")
        if "mode=memory" in query:
            return None
    if database in ("", ":memory:"):
        return None
    return database


def private_sqlite_file(url: str | URL) -> None:
    """Create the SQLite file of ``url`` readable by its owner only (0600) before SQLite
    does, or narrow an existing one (and its -wal/-shm files) that others may read, with
    a warning. SQLite creates the -wal and -shm files with the database file's mode.

    The database holds password hashes, API key hashes, channel secrets and the signing
    key of the one-click links: no other local user has any business reading it."""
    path = sqlite_path(url)
    if path is None:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        pass
    except OSError:  # e.g. no such directory: SQLite says so when it connects
        return
    else:
        os.close(fd)
        os.chmod(path, PRIVATE_MODE)  # os.open's mode is narrowed by the umask, never widened
        return
    for suffix in _SIDE_FILES:
        name = path + suffix
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
        except OSError:
            continue
        if mode & 0o077 == 0:
            continue
        try:
            os.chmod(name, mode & 0o700)
        except OSError as exc:
            log.warning("the database file %s is readable by others (mode %03o) and could "
                        "not be narrowed to %03o: %s", name, mode, mode & 0o700, exc)
        else:
            log.warning("the database file %s was readable by others (mode %03o): narrowed "
                        "to %03o", name, mode, mode & 0o700)


def make_engine(url: str, *, sqlite_synchronous: str = "NORMAL", echo: bool = False,
                pool_size: int = 8, max_overflow: int = 8) -> Engine:
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        _configure_sqlite(engine, sqlite_synchronous.upper())
        return engine
    return create_engine(
        url,
        echo=echo,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_size=8,
        max_overflow=8,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not pysqlite, say when a transaction begins.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        # 16 MB of page cache per connection: there are up to 8 (plus overflow), and the
        # OS caches the file too; 64 MB each took RSS past 500 MB after big reads.
        cur.execute("PRAGMA cache_size=-16384")
        # Checkpoints (which fsync) run on Checkpointer's own thread, off the commit path.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        # A restarted WAL keeps its file and is written over from the start: trimming a
        # file of hundreds of MB stalled the next commit for 100 ms and more.
        cur.execute("PRAGMA journal_size_limit=-1")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front so a read-then-write transaction never
        # fails half way with SQLITE_BUSY; readers stay deferred and never block.
        if conn.get_execution_options().get("sqlite_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


WAL_LIMIT_BYTES = 256 * 1024 * 1024


class Checkpointer:
    """Copies SQLite's WAL back into the database file every ``interval`` seconds (often,
    so that little is left to copy whenever the WAL must restart) on a thread of its own,
    so commits never wait for a checkpoint's fsync. PASSIVE mode never blocks the writer or
    readers. Under sustained writes a WAL is never found fully copied when a new
    transaction starts, so it would grow without end: past ``wal_limit`` bytes
    ``restart_due`` is set, and the writer itself runs a RESTART checkpoint between two
    batches (``Database.restart_wal_if_due``), which makes the next transaction start the
    WAL afresh, over the same file (not trimmed). Run by the writer, it never waits in
    SQLite's busy-handler back-off against the writer's own lock."""

    def __init__(self, path: str, interval: float = 0.1,
                 wal_limit: int = WAL_LIMIT_BYTES) -> None:
        self.path = path
        self.interval = interval
        self.wal_limit = wal_limit
        self.restart_due = threading.Event()
        self._page_size: int | None = None
        #: The WAL's frames when the writer last restarted it, until a write starts it anew.
        self.restarted_frames: int | None = None
        self._waited = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vigil-checkpoint", daemon=True)
        self._thread.start()

    def checkpoint(self, conn: sqlite3.Connection, mode: str = "PASSIVE") -> int:
        """Runs a checkpoint; answers the frames of the WAL in use (the bytes past them are
        old frames the next write goes over, not a WAL that needs restarting)."""
        row = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return int(row[1]) if row is not None and row[1] is not None and row[1] > 0 else 0

    def step(self, conn: sqlite3.Connection) -> None:
        if self.restart_due.is_set():
            return  # the writer's RESTART is pending; do not compete with it
        frames = self.checkpoint(conn)
        # Right after a RESTART the WAL keeps its old frames (and the file its size) until
        # the next write starts it afresh; asking again then would only stall the writer
        # with a second RESTART.
        # (For a few steps at most: a WAL started afresh never regrows that far so soon.)
        if self.restarted_frames is not None:
            self._waited += 1
            if frames >= self.restarted_frames and self._waited <= 20:
                return
            self.restarted_frames = None
        if frames * self._frame_bytes(conn) > self.wal_limit:
            self.restart_due.set()

    def restarted(self, frames: int | None) -> None:
        """The writer RESTARTed the WAL, which then held ``frames`` frames."""
        self.restarted_frames = frames
        self._waited = 0

    def _frame_bytes(self, conn: sqlite3.Connection) -> int:
        if self._page_size is None:
            self._page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        return self._page_size + 24  # each WAL frame is a page and a 24-byte header

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=2000")
            while not self._stop.wait(self.interval):
                try:
                    self.step(conn)
                except sqlite3.Error:
                    log.exception("WAL checkpoint failed; retrying")
            self.checkpoint(conn)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None


class Database:
    """The engine and a session factory. ``write()`` is a transaction that may write."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "NORMAL") -> None:
        self.url = url
        self.engine = make_engine(url, sqlite_synchronous=sqlite_synchronous)
        #: Where transactions that write run. On SQLite, one connection of its own (more
        #: only if a writer nests): this process's writers take turns anyway
        #: (``exclusive``), and a connection whose transactions are the only ones writing
        #: keeps its page cache between them, where one handed round a shared pool finds
        #: its cache stale after every other connection's write and reads pages again.
        self._write_pool = self.engine
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (
                None, "", ":memory:"):
            self._write_pool = make_engine(url, sqlite_synchronous=sqlite_synchronous,
                                           pool_size=1, max_overflow=4)
        self.write_engine: Engine = self._write_pool.execution_options(sqlite_write=True)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(bind=self.write_engine, expire_on_commit=False)
        self._checkpointer: Checkpointer | None = None
        #: Transactions ``write()`` has run (committed or not).
        self.writes = 0
        # SQLite has one writer at a time. Threads of this process queue for it here, where
        # a release wakes the next at once, rather than in SQLite's busy handler, which
        # polls with sleeps of up to 100 ms (a notifier pass behind a batch would wait
        # for the sleep, not for the batch).
        self._write_lock: threading.RLock | None = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else None)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold this process's SQLite write turn (nothing on PostgreSQL)."""
        if self._write_lock is None:
            yield
            return
        with self._write_lock:
            yield

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session
            session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any error."""
        with self.exclusive():
            try:
                with self._write_sessions() as session, session.begin():
                    yield session
            finally:
                # Counted with the write turn held (the pipeline's writer reads it with
                # the turn held too, see incidents/cache.py).
                self.writes += 1

    def checkpointer(self, interval: float = 0.1,
                     wal_limit: int = WAL_LIMIT_BYTES) -> Checkpointer | None:
        """The WAL checkpointer a long-running process should start (SQLite only); the
        process's writer then calls ``restart_wal_if_due`` between its transactions."""
        if self.dialect != "sqlite" or not self.engine.url.database:
            return None
        self._checkpointer = Checkpointer(self.engine.url.database, interval, wal_limit)
        return self._checkpointer

    def restart_wal_if_due(self) -> bool:
        """Called by the writer between transactions: RESTART the WAL if it outgrew its
        limit. Returns whether it did."""
        cp = self._checkpointer
        if cp is None or not cp.restart_due.is_set():
            return False
        started = time.perf_counter()
        try:
            # (Outside any transaction, on the writers' connection: a checkpoint cannot run
            # inside a write transaction.)
            with self.exclusive(), self._write_pool.connect() as conn:
                row = conn.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)").fetchone()
            cp.restarted(int(row[1]) if row is not None and row[1] else None)
        except Exception:
            # Called after a commit: its failure must not make the caller think the
            # committed work failed. The next due restart tries again.
            log.exception("WAL restart failed")
            return False
        finally:
            cp.restart_due.clear()
        log.info("WAL restarted in %.1f ms", (time.perf_counter() - started) * 1000)
        return True

    def dispose(self) -> None:
        self.engine.dispose()
        if self._write_pool is not self.engine:
            self._write_pool.dispose()
