"""What muting needs inside a batch's transaction: silences, maintenance windows and
inhibition rules (cached per node while none changes, ``configstate``), inhibition sources
and flap states."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update

from vigil.alerts.models import Alert
from vigil.clock import ensure_utc
from vigil.configstate import INHIBITIONS, SILENCES, WINDOWS, StateCache, Versions
from vigil.core.severity import SEVERITY_LABELS
from vigil.db import bulk
from vigil.db.sqlarray import array, in_array, per_dialect
from vigil.errors import InvalidInput
from vigil.muting.flapping import FlapState
from vigil.muting.inhibition import FiringAlert, InhibitRule, SourceQuery, validate_inhibit_rule
from vigil.muting.maintenance import ActiveWindow, validate_window
from vigil.muting.matchers import Matcher, matcher
from vigil.muting.models import FlapRecord, InhibitionRule, MaintenanceWindow, Silence
from vigil.muting.silences import ActiveSilence

_silences = cast(Table, Silence.__table__)
_windows_t = cast(Table, MaintenanceWindow.__table__)
_inhibit_t = cast(Table, InhibitionRule.__table__)
_flaps_t = cast(Table, FlapRecord.__table__)
_alerts_t = cast(Table, Alert.__table__)


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
    out = []
    for r in rows:
        try:
            matchers = compiled(r.matchers)
        except InvalidInput:  # validated when saved; one that no longer compiles is skipped
            continue
        out.append(ActiveSilence(r.id, r.tenant_id, matchers, ensure_utc(r.starts_at),
                                 ensure_utc(r.ends_at)))
    return out


def silence_cache(versions: Versions) -> StateCache[list[ActiveSilence]]:
    """The silences not yet expired when loaded, kept while none changes, so the ingest
    path does not query them per batch (``active_silences`` drops the expired ones)."""
    def load(conn: Connection, _key: object, now: datetime | None) -> list[ActiveSilence]:
        assert now is not None
        return unexpired_silences(conn, now)

    return StateCache(load, versions=versions, topic=SILENCES)


def active_silences(cache: StateCache[list[ActiveSilence]], conn: Connection,
                    tenant_ids: set[int], now: datetime) -> list[ActiveSilence]:
    return [s for s in cache.get(conn, None, now)
            if s.tenant_id in tenant_ids and s.starts_at <= now < s.ends_at]


def _windows(conn: Connection) -> list[ActiveWindow]:
    out = []
    for row in conn.execute(select(_windows_t.c.id, _windows_t.c.tenant_id, _windows_t.c.spec)):
        try:
            out.append(ActiveWindow(row.id, row.tenant_id, validate_window(row.spec)))
        except InvalidInput:  # validated when saved; one that no longer loads is skipped
            continue
    return out


def _inhibitions(conn: Connection) -> list[InhibitRule]:
    out = []
    for row in conn.execute(select(_inhibit_t.c.id, _inhibit_t.c.tenant_id, _inhibit_t.c.spec)
                            .order_by(_inhibit_t.c.id)):
        try:
            out.append(InhibitRule(row.id, row.tenant_id, validate_inhibit_rule(row.spec)))
        except InvalidInput:
            continue
    return out


def window_cache(versions: Versions) -> StateCache[list[ActiveWindow]]:
    """Every maintenance window (each one's schedule says when it is active), kept while
    none changes."""
    return StateCache(lambda conn, _key, _now: _windows(conn), versions=versions,
                      topic=WINDOWS)


def inhibition_cache(versions: Versions) -> StateCache[list[InhibitRule]]:
    """Every inhibition rule, kept while none changes."""
    return StateCache(lambda conn, _key, _now: _inhibitions(conn), versions=versions,
                      topic=INHIBITIONS)


_LOAD_SOURCES = select(*[_alerts_t.c[n] for n in ("tenant_id", "fingerprint", "name", "severity",
                                                    "service", "environment", "labels")]).where(
    _alerts_t.c.tenant_id.in_(bindparam("tenants", expanding=True)),
    _alerts_t.c.status != "resolved")


def inhibition_sources(conn: Connection, q: SourceQuery) -> list[FiringAlert]:
    """The open alerts that are sources of some inhibition rule (one query)."""
    if not q.tenant_ids:
        return []
    stmt = _LOAD_SOURCES
    names: set[str] = set()
    if all(q.alertnames.get(t) is not None for t in q.tenant_ids):
        for t in q.tenant_ids:
            names.update(q.alertnames[t] or ())
        stmt = stmt.where(_alerts_t.c.name.in_(sorted(names)))
    out = []
    for row in conn.execute(stmt, {"tenants": sorted(q.tenant_ids)}):
        labels = {"alertname": row.name, "severity": SEVERITY_LABELS.get(row.severity, "")}
        if row.service:
            labels["service"] = row.service
        if row.environment:
            labels["environment"] = row.environment
        labels.update(row.labels)
        if q.matches(row.tenant_id, labels):
            out.append(FiringAlert(row.tenant_id, row.fingerprint, labels))
    return out


_LOAD_FLAPS = per_dialect(lambda d: select(
    _flaps_t.c.tenant_id, _flaps_t.c.fingerprint, _flaps_t.c.changes).where(
    in_array(_flaps_t.c.fingerprint, "fingerprints", d)))


def load_flaps(conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], FlapState]:
    if not keys:
        return {}
    d = conn.dialect.name
    rows = conn.execute(_LOAD_FLAPS[d], {"fingerprints": array(d, {fp for _, fp in keys})})
    return {(r.tenant_id, r.fingerprint): FlapState.from_json(r.changes) for r in rows
            if (r.tenant_id, r.fingerprint) in keys}


def save_flaps(conn: Connection, states: dict[tuple[int, str], FlapState], now: datetime,
               existing: set[tuple[int, str]]) -> None:
    """Insert new flap states and update known ones (the batch holds the keys' locks)."""
    new = [[t, fp, s.to_json(), now] for (t, fp), s in states.items() if (t, fp) not in existing]
    old = [[s.to_json(), now, t, fp] for (t, fp), s in states.items() if (t, fp) in existing]
    if new:
        bulk.insert_rows(conn, _flaps_t, ("tenant_id", "fingerprint", "changes", "updated_at"),
                         new)
    if old:
        conn.execute(update(_flaps_t).where(
            _flaps_t.c.tenant_id == bindparam("t"), _flaps_t.c.fingerprint == bindparam("fp"))
            .values(changes=bindparam("changes"), updated_at=bindparam("at")),
            [{"changes": c, "at": at, "t": t, "fp": fp} for c, at, t, fp in old])
