"""PostgreSQL pushes a change: ``LISTEN vigil_config`` on a connection of its own, on a
thread of its own. Each notification makes the node's ``Versions`` read the table at the
next ask, so another node's change applies at the next batch instead of within the
second the poll allows. Without it (SQLite, a lost connection) the poll still holds."""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from vigil.configstate.signal import CHANNEL, Versions, versions_of
from vigil.db import Database

log = logging.getLogger(__name__)


def conninfo(url: str) -> str:
    """A libpq connection string for a SQLAlchemy PostgreSQL URL."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    def __init__(self, url: str, versions: Versions, *, timeout: float = 0.2) -> None:
        self.url = url
        self.versions = versions
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Set once the connection listens (tests wait for it).
        self.listening = threading.Event()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vigil-config-listen",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo(self.url), autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self.versions.notified()  # whatever changed while not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=self.timeout, stop_after=1):
                            self.versions.notified()
            except psycopg.Error:
                log.warning("listening for configuration changes failed; the poll holds "
                            "(every %.0f s) until it listens again", self.versions.interval,
                            exc_info=True)
            finally:
                self.listening.clear()
            self._stop.wait(self.timeout)


def listen(db: Database) -> Listener | None:
    """Start listening for ``db``'s node (PostgreSQL; None on SQLite, where the poll is
    enough: its other writers are local processes such as ``vigil apply``). It stops
    when the database is disposed."""
    if db.dialect != "postgresql":
        return None
    listener = Listener(db.url, versions_of(db))
    event.listen(db.engine, "engine_disposed", lambda _engine: listener.stop())
    listener.start()
    return listener
