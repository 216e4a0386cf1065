"""The one cache of database state a node keeps: ``StateCache``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from vigil.configstate.signal import Versions

V = TypeVar("V")
#: ``load(conn, key, now)``: the value for ``key`` as the database holds it.
Loader = Callable[[Connection, Any, datetime | None], V]


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    version: int
    generation: int
    loaded_at: datetime | None
    value: V


class StateCache(Generic[V]):
    """Values loaded from the database through ``load``, one per key (``None`` for a cache
    of one value), each kept while the version of ``topic`` is the one it was loaded at
    (``Versions``: a change committed in this process is seen at once, one committed
    elsewhere within a second) and, with ``max_age``, for at most that long by the
    ``now`` the caller gives (for state that depends on time). Thread-safe: readers of
    a fresh value take a lock for a dict lookup only; loads are one at a time, and each
    reads the topic's version in the transaction it loads in (one small query more per
    load, none per ask).

    Without ``topic``, only ``max_age`` and the key (which may carry a version of its
    own) decide. ``invalidate`` drops everything (a test, or a change made behind the
    services' back)."""

    def __init__(self, load: Loader[V], *, versions: Versions | None = None,
                 topic: str | None = None, max_age: timedelta | None = None,
                 limit: int = 10_000) -> None:
        if (versions is None) != (topic is None):
            raise ValueError("a topic needs the versions it is followed by, and back")
        self._load = load
        self.versions = versions
        self.topic = topic
        self.max_age = max_age
        self.limit = limit
        self._entries: dict[Hashable, _Entry[V]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        #: Loads done (for tests and the curious).
        self.loads = 0

    def _version(self, conn: Connection | None) -> int | None:
        if self.versions is None or self.topic is None:
            return 0
        return self.versions.version(self.topic, conn)

    def _fresh(self, key: Hashable, version: int, now: datetime | None) -> _Entry[V] | None:
        hit = self._entries.get(key)
        if hit is None or hit.version != version or hit.generation != self._generation:
            return None
        if self.max_age is not None:
            if now is None or hit.loaded_at is None:
                raise ValueError("a cache with a max_age needs now")
            if not timedelta(0) <= now - hit.loaded_at < self.max_age:
                return None
        return hit

    def current(self, key: Hashable = None, now: datetime | None = None) -> V | None:
        """The value while it is known to be fresh, without the database (say, on the
        event loop); None when the next ``get`` must ask the database."""
        version = self._version(None)
        if version is None:
            return None
        with self._lock:
            hit = self._fresh(key, version, now)
        return hit.value if hit is not None else None

    def get(self, conn: Connection, key: Hashable = None, now: datetime | None = None) -> V:
        """The value for ``key``, loaded through ``conn`` unless fresh."""
        version = self._version(conn)  # before loading: a change after it reloads later
        assert version is not None
        with self._lock:
            hit = self._fresh(key, version, now)
        if hit is not None:
            return hit.value
        with self._loading:
            with self._lock:
                hit = self._fresh(key, version, now)
                generation = self._generation
            if hit is not None:
                return hit.value
            if self.versions is not None and self.topic is not None:
                # Kept under the version the load reflects, which may be older than the
                # one this node knows (then it loads again at the next ask).
                version = self.versions.stored(self.topic, conn)
            value = self._load(conn, key, now)
            self.loads += 1
            with self._lock:
                if len(self._entries) >= self.limit:
                    self._entries.clear()
                self._entries[key] = _Entry(version, generation, now, value)
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
