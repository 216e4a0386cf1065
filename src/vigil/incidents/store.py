"""The runner's incident I/O: load the incidents a batch touches, write correlation's
decisions. Inside the batch's transaction, set-based."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.sql import bindparam

from vigil.alerts.dedup import AlertState, Decision, Outcome
from vigil.core.status import OPEN_STATUSES
from vigil.correlation.routing import Route
from vigil.db import bulk, sqlarray
from vigil.db.sequences import allocate_ids
from vigil.incidents.cache import IncidentCache
from vigil.incidents.grouping import (
    INCIDENT_COLUMNS,
    REOPEN_WINDOW,
    IncidentDecision,
    IncidentState,
    group_key,
    refires,
    reopens,
)
from vigil.incidents.models import Incident, IncidentEvent
from vigil.outbox.models import OutboxEvent
from vigil.tenants.models import Tenant

_incidents = cast(Table, Incident.__table__)
_timeline = cast(Table, IncidentEvent.__table__)
_outbox = cast(Table, OutboxEvent.__table__)
_tenants = cast(Table, Tenant.__table__)
#: What correlation reads of an existing incident (the rest stays in the database: it is
#: never written back, see _UPDATE_COLUMNS).
_LOAD_COLUMNS = ("id", "tenant_id", "number", "title", "status", "severity", "category",
                 "assignee", "team", "services", "sources", "alert_count", "open_alert_count",
                 "group_key", "resolve_on", "created_at", "last_seen_at", "resolved_at",
                 "rule_id", "pending", "candidate", "occurrences", "parts_seen",
                 "first_fingerprint", "last_fingerprint", "escalation_policy")
_SELECT = select(*[_incidents.c[c] for c in _LOAD_COLUMNS])


def _state(row: Any) -> IncidentState:
    (id_, tenant_id, number, title, status, severity, category, assignee, team, services,
     sources, alert_count, open_alert_count, group_key, resolve_on, created_at, last_seen_at,
     resolved_at, rule_id, pending, candidate, occurrences, parts_seen, first_fingerprint,
     last_fingerprint, escalation_policy) = row  # _LOAD_COLUMNS
    return IncidentState(
        id=id_, tenant_id=tenant_id, number=number, title=title, summary="", status=status,
        severity=severity, priority=None, category=category, type="rule", assignee=assignee,
        team=team, services=services, sources=sources, alert_count=alert_count,
        open_alert_count=open_alert_count, group_key=group_key, resolve_on=resolve_on,
        created_at=created_at, started_at=created_at, last_seen_at=last_seen_at,
        resolved_at=resolved_at, rule_id=rule_id, pending=pending, candidate=candidate,
        occurrences=occurrences, parts_seen=parts_seen, first_fingerprint=first_fingerprint,
        last_fingerprint=last_fingerprint, escalation_policy=escalation_policy,
        as_loaded=(status, severity, pending))


_INSERT_COLUMNS = ("id", *INCIDENT_COLUMNS)
#: What correlation changes on an existing incident, and nothing else: a person's change
#: made meanwhile (assignee, title, priority, ...) is never written over. Most changes (an
#: alert joined) touch only the counters (_COUNT_COLUMNS); status, severity and pending,
#: which three indexes each hold, are written only for the incidents where they changed.
_COUNT_COLUMNS = ("alert_count", "open_alert_count", "last_seen_at", "resolved_at",
                  "occurrences", "last_fingerprint")
_UPDATE_COLUMNS = (*_COUNT_COLUMNS, "status", "severity", "pending")
#: ... and, for the few incidents whose lists changed (``wide_change``), these too.
_WIDE_COLUMNS = ("services", "sources", "parts_seen", "resolution")
_TIMELINE_COLUMNS = ("tenant_id", "incident_id", "at", "actor", "kind", "message", "before",
                     "after")
# The incidents a batch's new alerts may join, in SQL for the driver (bulk.select_rows):
# the hot query of the ingest path.
_OPEN_LIST = ", ".join(f"'{x}'" for x in OPEN_STATUSES)
_WHERE_GROUP = {
    "sqlite": ("tenant_id IN (SELECT value FROM json_each({p})) AND group_key IN (SELECT "
               "value FROM json_each({p})) AND (status IN (" + _OPEN_LIST + ") OR (status = "
               "'resolved' AND resolved_at >= {p}))"),
    "postgresql": ("tenant_id = ANY({p}) AND group_key = ANY({p}) AND (status IN ("
                   + _OPEN_LIST + ") OR (status = 'resolved' AND resolved_at >= {p}))"),
}


def _since(dialect: str, when: datetime) -> Any:
    if dialect == "sqlite":
        return when.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return when


_BY_ID = _SELECT.where(_incidents.c.id.in_(bindparam("ids", expanding=True)))
_OUTBOX_COLUMNS = ("tenant_id", "topic", "aggregate", "payload", "created_at", "available_at",
                   "attempts")


#: Outcomes whose alert's incident correlation may change (the others leave it alone).
_BY_INCIDENT = frozenset({Outcome.RESOLVED, Outcome.DEDUPLICATED, Outcome.REDELIVERED})


def load_for_batch(conn: Connection, decision: Decision, now: datetime,
                   routes: list[Route | None] | None = None,
                   cache: IncidentCache | None = None) -> list[IncidentState]:
    """The incidents the batch's alerts may touch: each new alert's group's latest open or
    recently resolved incident, and the incidents of its existing alerts (and, for a repeat
    of an alert whose incident is done with, which may leave it (``grouping.refires``),
    its group's too). With ``cache`` (the writer's, already checked for this transaction),
    what it knows is not read again."""
    keys: set[tuple[int, str]] = set()
    ids: set[int] = set()
    repeats: list[tuple[int, AlertState, int]] = []
    for n, (alert, outcome) in enumerate(decision.outcomes):
        if alert is None:
            continue
        if outcome in (Outcome.CREATED, Outcome.UNSUPPRESSED):
            rt = routes[n] if routes is not None else None
            keys.add((alert.tenant_id, rt.key if rt is not None else group_key(alert)))
        elif alert.incident_id is not None and outcome in _BY_INCIDENT:
            ids.add(alert.incident_id)
            if outcome is not Outcome.RESOLVED:
                repeats.append((n, alert, alert.incident_id))
    found: dict[int, IncidentState] = {}
    loaded: list[IncidentState] = []
    if cache is not None:
        for i in ids:
            inc = cache.by_id.get(i)
            if inc is not None:
                found[i] = inc
    ids -= found.keys()
    if ids:
        for by_id in conn.execute(_BY_ID, {"ids": sorted(ids)}):
            found[by_id.id] = _state(by_id)
            loaded.append(found[by_id.id])
    for n, alert, incident_id in repeats:
        inc = found.get(incident_id)
        if inc is not None and refires(alert, inc) and not reopens(inc, now):
            rt = routes[n] if routes is not None else None
            keys.add((alert.tenant_id, rt.key if rt is not None else group_key(alert)))
    if cache is not None:
        missing = set()
        for key in keys:
            known = cache.group(key, now)
            if known is None:
                missing.add(key)
            else:
                found.update((inc.id, inc) for inc in known if inc.id is not None)
        keys = missing
    if keys:
        d = conn.dialect.name
        tenants = sorted({t for t, _ in keys})
        by_id_loaded = {inc.id for inc in loaded}
        for row in bulk.select_rows(conn, _incidents, _LOAD_COLUMNS, _WHERE_GROUP[d], (
                sqlarray.array(d, tenants), sqlarray.array(d, {k for _, k in keys}),
                _since(d, now - REOPEN_WINDOW))):
            inc = found.get(row[0])
            if inc is None:  # (one the cache has is the same row: keep its object)
                inc = found[row[0]] = _state(row)
            elif row[0] in by_id_loaded:  # (read above already)
                continue
            loaded.append(inc)
    if cache is not None:
        cache.learn(keys, loaded)
    return list(found.values())


def numbers(conn: Connection, tenant_id: int, n: int) -> list[int]:
    """INC numbers per tenant, from a counter row (its lock serializes nodes)."""
    last = conn.execute(
        update(_tenants).where(_tenants.c.id == tenant_id)
        .values(incident_seq=_tenants.c.incident_seq + bindparam("n"))
        .returning(_tenants.c.incident_seq), {"n": n},
    ).scalar_one()
    return list(range(last - n + 1, last + 1))


def write_new(conn: Connection, d: IncidentDecision) -> None:
    """Insert the new incidents (ids and numbers assigned) and link new alerts to theirs;
    runs before the alerts are inserted."""
    if d.new:
        for inc, new_id in zip(d.new, allocate_ids(conn, _incidents, len(d.new)), strict=True):
            inc.id = new_id
        by_tenant: dict[int, list[IncidentState]] = {}
        for inc in d.new:
            by_tenant.setdefault(inc.tenant_id, []).append(inc)
        for tenant_id, incs in by_tenant.items():
            for inc, number in zip(incs, numbers(conn, tenant_id, len(incs)), strict=True):
                inc.number = number
        bulk.insert_objects(conn, _incidents, _INSERT_COLUMNS, d.new)
    for alert, inc in d.links:
        alert.incident_id = inc.id


def write_changes(conn: Connection, d: IncidentDecision) -> None:
    # New incidents were inserted with their final state (correlation ran before write_new).
    new = {id(i) for i in d.new}
    changed = [i for i in d.changed.values() if id(i) not in new]
    if changed:
        full, counts = [], []
        for i in changed:
            if i.as_loaded is not None and i.as_loaded == (i.status, i.severity, i.pending):
                counts.append(i)
            else:
                full.append(i)
        bulk.update_objects(conn, _incidents, _COUNT_COLUMNS, "id", counts)
        bulk.update_objects(conn, _incidents, _UPDATE_COLUMNS, "id", full)
        bulk.update_objects(conn, _incidents, _WIDE_COLUMNS, "id",
                            [i for i in changed if i.wide_change])
    if d.timeline:
        bulk.insert_rows(conn, _timeline, _TIMELINE_COLUMNS, [
            [t.incident.tenant_id, t.incident.id, t.at, t.actor, t.kind, t.message, t.before,
             t.after]
            for t in d.timeline
        ])
    if d.outbox:
        rows: list[list[Any]] = []
        for o in d.outbox:
            at = d.timeline[-1].at if d.timeline else None
            rows.append([o.incident.tenant_id, o.topic, f"incident:{o.incident.id}",
                         dict(o.payload, incident_id=o.incident.id, number=o.incident.number),
                         at, at, 0])
        bulk.insert_rows(conn, _outbox, _OUTBOX_COLUMNS, rows)



