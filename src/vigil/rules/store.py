"""Loading the silences active at a batch's ``now`` (inside its transaction)."""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from vigil.clock import ensure_utc
from vigil.rules.matchers import Matcher, matcher
from vigil.rules.models import Silence
from vigil.rules.mute import ActiveSilence

_silences = cast(Table, Silence.__table__)


@lru_cache(maxsize=4096)
def _compiled(items: tuple[tuple[str, str, str], ...]) -> tuple[Matcher, ...]:
    return tuple(matcher(n, o, v) for n, o, v in items)


def compiled(matchers: list[dict[str, Any]]) -> tuple[Matcher, ...]:
    return _compiled(tuple((m["name"], m["op"], m["value"]) for m in matchers))


def unexpired_silences(conn: Connection, now: datetime) -> list[ActiveSilence]:
    rows = conn.execute(
        select(_silences.c.id, _silences.c.tenant_id, _silences.c.matchers,
               _silences.c.starts_at, _silences.c.ends_at).where(_silences.c.ends_at > now)
    )
    return [ActiveSilence(r.id, r.tenant_id, compiled(r.matchers),
                          ensure_utc(r.starts_at), ensure_utc(r.ends_at)) for r in rows]


class SilenceCache:
    """The silences not yet expired, reloaded at most every ``ttl`` seconds (and at once
    after this node changes one), so the ingest path does not query them per batch. A
    silence made on another node applies here within ``ttl``."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._items: list[ActiveSilence] = []
        self._loaded = -math.inf
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._loaded = -math.inf

    def active(self, conn: Connection, tenant_ids: set[int], now: datetime) -> list[ActiveSilence]:
        with self._lock:
            if time.monotonic() - self._loaded > self.ttl:
                self._items = unexpired_silences(conn, now)
                self._loaded = time.monotonic()
            items = self._items
        return [s for s in items
                if s.tenant_id in tenant_ids and s.starts_at <= now < s.ends_at]
