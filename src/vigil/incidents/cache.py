"""The writer's memory of the incidents it last wrote (SQLite only).

Loading the incidents a batch may join is a SELECT of some 26 columns per incident and an
object made of each row: under a steady stream, most of the writer's time per incident
that an alert joins. With SQLite, one thread of one process writes incidents from the
pipeline, and its objects after a commit are what the rows hold. So the writer keeps them
for the next batch, for as long as nothing else can have written:

* every other write in this process goes through ``Database.write()``, which counts its
  transactions (``Database.writes``); and
* SQLite's ``PRAGMA data_version`` changes for a connection when another connection (of
  this process or another) commits.

Both are read inside the writer's transaction, which holds the write lock, so neither can
change between the check and the commit. Any change, a failed batch, or a cache past its
size limit drops everything, and the next batch loads from the database again. PostgreSQL
(several nodes) never uses it.

A group key is *known* once the writer has loaded it: from then on, every incident of
that group that the SELECT would return is in memory (new ones are made only by the
writer; anything else that creates, merges or changes incidents is a write that drops
the cache).

It is not a ``configstate.StateCache``, the cache of configuration: incidents are not
configuration and change with every batch, so no "configuration changed" version could
say when it holds. What says so here is cheaper and exact for the one writer: the write
count and ``data_version``, read inside the writer's own locked transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from vigil.core.status import OPEN_STATUSES
from vigil.incidents.grouping import REOPEN_WINDOW, IncidentDecision, IncidentState

#: Incidents kept at most (about 1 KB each); past it the cache starts again.
LIMIT = 10_000


def eligible(inc: IncidentState, now: datetime) -> bool:
    """Whether a new alert of its group may join or reopen it: the load query's filter."""
    return inc.status in OPEN_STATUSES or (
        inc.status == "resolved" and inc.resolved_at is not None
        and inc.resolved_at >= now - REOPEN_WINDOW)


class IncidentCache:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.by_id: dict[int, IncidentState] = {}
        #: Known group keys -> their incidents (eligible when last looked at).
        self.groups: dict[tuple[int, str], list[IncidentState]] = {}
        self._mark: tuple[int, int, int] | None = None
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self.by_id.clear()
        self.groups.clear()
        self._mark = None

    def begin(self, conn: Connection, writes: int) -> None:
        """At the start of the writer's transaction (write lock held): keep what is kept
        only if nothing but the writer has written since its last commit."""
        dbapi: Any = conn.connection.dbapi_connection
        version = dbapi.execute("PRAGMA data_version").fetchone()[0]
        mark = (id(dbapi), int(version), writes)
        if mark != self._mark:
            self.clear()
            self._mark = mark

    def group(self, key: tuple[int, str], now: datetime) -> list[IncidentState] | None:
        """A known group's incidents that are still eligible; None if not known."""
        found = self.groups.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        for inc in found:
            if inc.status not in OPEN_STATUSES and not eligible(inc, now):
                found[:] = [i for i in found if eligible(i, now)]
                break
        return found

    def learn(self, keys: Iterable[tuple[int, str]], found: Iterable[IncidentState]) -> None:
        """What the SELECT returned for ``keys``: those groups are known from now on."""
        fresh: dict[tuple[int, str], list[IncidentState]] = {key: [] for key in keys}
        for inc in found:
            assert inc.id is not None
            self.by_id[inc.id] = inc
            key = (inc.tenant_id, inc.group_key)
            group = fresh.get(key)
            if group is None:
                group = self.groups.get(key)  # (an already known group: add it if new)
                if group is None or any(i is inc for i in group):
                    continue
            group.append(inc)
        self.groups.update(fresh)

    def committed(self, d: IncidentDecision) -> None:
        """After the writer's commit: its objects are what the rows now hold."""
        for inc in (*d.changed.values(), *d.new):
            inc.as_loaded = (inc.status, inc.severity, inc.pending)
            inc.wide_change = False
        for inc in d.new:
            assert inc.id is not None
            self.by_id[inc.id] = inc
            # Its group was loaded for this batch (every trigger's is), so it is known.
            self.groups.setdefault((inc.tenant_id, inc.group_key), []).append(inc)
        if len(self.by_id) > self.limit:
            self.clear()
