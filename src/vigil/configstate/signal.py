"""The "configuration changed" signal and what a node knows of it.

``changed(session, topic)`` raises the topic's version in ``config_versions`` inside the
session's transaction (one upsert) and, on PostgreSQL, queues ``NOTIFY vigil_config``,
which PostgreSQL delivers only if that transaction commits. So a change is never
announced without being committed, nor committed without being announced.

Each ``Database`` of this process has one ``Versions``: the topics' versions as this node
knows them. A commit in this process that called ``changed`` sets them at once (a session
listener, after the commit). Changes committed elsewhere (another node, ``vigil apply``
run as its own process) are read from the table: at most once per ``interval`` (1 s),
by whoever asks first once it is due, in the transaction it is in anyway; or at the next
ask after a ``NOTIFY`` arrives (``listener.Listener``). Asking costs a dict lookup and a
clock read otherwise: no round trip per batch.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from vigil.configstate.models import ConfigVersion
from vigil.db import Database

RULES = "correlation_rules"
POLICIES = "incident_policies"
SILENCES = "silences"
WINDOWS = "maintenance_windows"
INHIBITIONS = "inhibition_rules"
INTEGRATIONS = "integrations"
TOPICS = (RULES, POLICIES, SILENCES, WINDOWS, INHIBITIONS, INTEGRATIONS)

#: The PostgreSQL channel a change is announced on (its payload is the topic).
CHANNEL = "vigil_config"
#: How often a node reads the versions table, at most (seconds).
INTERVAL = 1.0

_table = cast(Table, ConfigVersion.__table__)
_PENDING = "vigil.configstate.pending"
_READ = select(_table.c.topic, _table.c.version)
_ONE = select(_table.c.version).where(_table.c.topic == bindparam("topic"))
_NOTIFY = text("SELECT pg_notify(:channel, :topic)")


def _bump(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_table)
    return stmt.on_conflict_do_update(
        index_elements=[_table.c.topic],
        set_={"version": _table.c.version + 1, "changed_at": stmt.excluded.changed_at},
    ).returning(_table.c.version)


_BUMP = {d: _bump(d) for d in ("sqlite", "postgresql")}


class Versions:
    """The configuration versions one node knows for one database (thread-safe)."""

    def __init__(self, *, interval: float = INTERVAL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        #: The clock ``interval`` is measured with (a test gives a fake one).
        self.monotonic = monotonic
        self._known: dict[str, int] = {}
        self._read_at = -math.inf
        self._due = False
        self._lock = threading.Lock()
        #: Times the table was read (for tests and the curious).
        self.reads = 0
        #: Set by each announcement from another node (``Listener``).
        self.announced = threading.Event()

    def due(self) -> bool:
        return self._due or self.monotonic() - self._read_at >= self.interval

    def version(self, topic: str, conn: Connection | None = None) -> int | None:
        """The topic's version as this node knows it. When a read of the table is due it
        is read through ``conn`` first; without one, None (unknown: the caller must not
        trust what it holds, and asks again with a connection)."""
        if self.due():
            if conn is None:
                return None
            self.read(conn)
        return self._known.get(topic, 0)

    def read(self, conn: Connection) -> None:
        """Read every topic's version now (one small SELECT)."""
        asked = self.monotonic()
        rows = conn.execute(_READ).all()
        with self._lock:
            # Never backwards: a read transaction on SQLite may have begun before a change
            # this process already knows of (versions only grow).
            known = dict(self._known)
            for topic, version in rows:
                known[str(topic)] = max(int(version), known.get(str(topic), 0))
            self._known = known
            self._read_at = asked
            self._due = False
            self.reads += 1

    @staticmethod
    def stored(topic: str, conn: Connection) -> int:
        """The topic's version as ``conn``'s transaction sees it (what a load through it
        reflects: on SQLite a read transaction may have begun before the latest change)."""
        return int(conn.execute(_ONE, {"topic": topic}).scalar() or 0)

    def read_now(self, engine: Engine) -> None:
        with engine.connect() as conn:
            self.read(conn)

    def notified(self) -> None:
        """A change was announced (``NOTIFY``): read the table at the next ask."""
        self._due = True
        self.announced.set()

    def committed(self, topic: str, version: int) -> None:
        """This process committed ``version`` of ``topic`` (seen at once, no read)."""
        with self._lock:
            self._known[topic] = max(version, self._known.get(topic, 0))


#: Database -> its Versions; and the connection pools of a database -> the same Versions
#: (what a session's connection can name). The Versions holds neither, so both go with
#: the Database.
_BY_DB: weakref.WeakKeyDictionary[Database, Versions] = weakref.WeakKeyDictionary()
_BY_POOL: weakref.WeakValueDictionary[int, Versions] = weakref.WeakValueDictionary()
_POOLS: weakref.WeakKeyDictionary[Versions, list[object]] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def versions_of(db: Database) -> Versions:
    """The one ``Versions`` of ``db`` in this process."""
    with _registry_lock:
        found = _BY_DB.get(db)
        if found is None:
            found = _BY_DB[db] = Versions()
            pools: list[object] = [db.engine.pool, db.write_engine.pool]
            _POOLS[found] = pools  # keeps the ids below unique while it lives
            for pool in pools:
                _BY_POOL[id(pool)] = found
        return found


def changed(session: Session, topic: str, now: datetime | None = None) -> None:
    """Announce, in the session's transaction, that ``topic``'s configuration changes."""
    conn = session.connection()
    dialect = conn.dialect.name
    when = now if now is not None else datetime.now(UTC)
    version = int(conn.execute(_BUMP[dialect], {"topic": topic, "version": 1,
                                                "changed_at": when}).scalar_one())
    if dialect == "postgresql":
        conn.execute(_NOTIFY, {"channel": CHANNEL, "topic": topic})
    pending: list[tuple[int, str, int]] = session.info.setdefault(_PENDING, [])
    pending.append((id(conn.engine.pool), topic, version))


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    for pool_id, topic, version in pending or ():
        versions = _BY_POOL.get(pool_id)
        if versions is not None:
            versions.committed(topic, version)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back (a commit took them already)
        session.info.pop(_PENDING, None)


def install() -> None:
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_transaction_end", _after_transaction_end)


install()
