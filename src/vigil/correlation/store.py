"""The rules a node routes with: loaded, compiled and indexed once, reloaded when changed."""

from __future__ import annotations

import math
import threading
import time

from sqlalchemy import Connection, Table, select

from vigil.correlation.models import CorrelationRule
from vigil.correlation.routing import CompiledRule, RuleSet, compile_rule
from vigil.correlation.service import FIELDS

_rules = CorrelationRule.__table__
assert isinstance(_rules, Table)


def load_rulesets(conn: Connection, compiled: dict[tuple[int, object], CompiledRule] | None = None
                  ) -> dict[int, RuleSet]:
    """The enabled rules per tenant. ``compiled`` (keyed by id and update time) keeps rules
    that did not change from being compiled again."""
    cache = compiled if compiled is not None else {}
    seen: set[tuple[int, object]] = set()
    by_tenant: dict[int, list[CompiledRule]] = {}
    for row in conn.execute(select(_rules).where(_rules.c.enabled.is_(True))):
        key = (row.id, row.updated_at)
        seen.add(key)
        rule = cache.get(key)
        if rule is None:
            data = {f: getattr(row, f) for f in FIELDS}
            try:
                rule = compile_rule(data, id=row.id, tenant_id=row.tenant_id)
            except Exception:  # checked at save time; one that no longer compiles is skipped
                continue
            cache[key] = rule
        by_tenant.setdefault(row.tenant_id, []).append(rule)
    for key in set(cache) - seen:
        del cache[key]
    return {t: RuleSet(rules) for t, rules in by_tenant.items()}


class RuleCache:
    """Compiled rule sets, reloaded at most every ``ttl`` seconds and at once after this
    node changes a rule. A rule changed on another node applies here within ``ttl``."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._sets: dict[int, RuleSet] = {}
        self._compiled: dict[tuple[int, object], CompiledRule] = {}
        self._loaded = -math.inf
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._loaded = -math.inf

    def current(self) -> dict[int, RuleSet] | None:
        """The loaded rule sets while they are fresh (no database at hand); None when the
        next ``rulesets`` call will load them again."""
        with self._lock:
            if time.monotonic() - self._loaded > self.ttl:
                return None
            return self._sets

    def rulesets(self, conn: Connection) -> dict[int, RuleSet]:
        with self._lock:
            if time.monotonic() - self._loaded > self.ttl:
                self._sets = load_rulesets(conn, self._compiled)
                self._loaded = time.monotonic()
            return self._sets
