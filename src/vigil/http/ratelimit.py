"""Per-caller token buckets in memory, for endpoints that cost CPU but store nothing (such
as ``POST /api/v1/correlation-rules/test``): a caller may make ``capacity`` requests at
once, then one every ``1 / per_second`` seconds. Time comes from the node's clock, so tests
move it with the fake clock.

Buckets are per node and per app (``for_app``), not shared between nodes: the point is
that one caller cannot keep a node's CPU busy, not an exact quota. Ingest never uses this:
its back-pressure is a 503 (Alertmanager drops 4xx)."""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable
from datetime import datetime
from typing import Any

from vigil.errors import RateLimited

__all__ = ["RateLimited", "TokenBucket"]


class TokenBucket:
    """One bucket per key, each holding up to ``capacity`` tokens, refilled at
    ``per_second``. At most ``max_keys`` keys are kept: when more arrive, full buckets (the
    same as no bucket) are forgotten first, then the longest idle."""

    def __init__(self, *, capacity: int, per_second: float, max_keys: int = 10_000) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError("a bucket needs a capacity of at least 1 and a positive rate")
        self.capacity = capacity
        self.per_second = per_second
        self.max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, datetime]] = {}
        self._lock = threading.Lock()

    def _level(self, key: Hashable, now: datetime) -> float:
        found = self._buckets.get(key)
        if found is None:
            return float(self.capacity)
        tokens, at = found
        elapsed = max((now - at).total_seconds(), 0.0)
        return min(float(self.capacity), tokens + elapsed * self.per_second)

    def take(self, key: Hashable, now: datetime) -> float:
        """Take a token for ``key``: 0.0 if there was one, else the seconds until there is
        one (nothing is taken then)."""
        with self._lock:
            tokens = self._level(key, now)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.per_second
            if key not in self._buckets and len(self._buckets) >= self.max_keys:
                self._forget(now)
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0

    def _forget(self, now: datetime) -> None:
        full = [k for k in self._buckets if self._level(k, now) >= self.capacity]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for k in by_age[:len(by_age) // 2 + 1]:
                del self._buckets[k]

    def check(self, key: Hashable, now: datetime, what: str) -> None:
        """Take a token or raise :class:`RateLimited` (429, Retry-After in whole seconds)."""
        wait = self.take(key, now)
        if wait > 0:
            raise RateLimited(f"too many {what} requests; retry in {math.ceil(wait)} s",
                              retry_after=max(1, math.ceil(wait)))


def for_app(state: Any, name: str, *, capacity: int, per_second: float) -> TokenBucket:
    """The bucket ``name`` of one app (``request.app.state``), made on first use: every
    app, as every test's, has its own."""
    buckets: dict[str, TokenBucket] | None = getattr(state, "rate_limits", None)
    if buckets is None:
        buckets = {}
        state.rate_limits = buckets
    found = buckets.get(name)
    if found is None:
        found = buckets[name] = TokenBucket(capacity=capacity, per_second=per_second)
    return found
