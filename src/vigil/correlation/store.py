"""The rules a node routes with: loaded, compiled and indexed once, reloaded when changed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Table, select

from vigil.configstate import RULES, StateCache, Versions
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


def rule_cache(versions: Versions) -> StateCache[dict[int, RuleSet]]:
    """The enabled rule sets per tenant, compiled and indexed once and kept while no rule
    changes (``configstate``: at once on this node, within a second on the others). A
    rule that did not change is not compiled again when another one does."""
    compiled: dict[tuple[int, object], CompiledRule] = {}  # (loads are one at a time)

    def load(conn: Connection, _key: object, _now: datetime | None) -> dict[int, RuleSet]:
        return load_rulesets(conn, compiled)

    return StateCache(load, versions=versions, topic=RULES)
