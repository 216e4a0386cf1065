"""Alert rows in and out for the pipeline: load the open alerts a batch touches, write
the dedup core's decisions.
Runs inside one transaction; set-based statements, no per-alert round trips."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vigil.alerts.dedup import ALERT_COLUMNS, STARTS_AT_SOURCES, AlertState, Decision
from vigil.alerts.models import Alert, AlertEventRecord, AlertsPerHour
from vigil.core.event import Action
from vigil.core.submission import Submission
from vigil.db import bulk
from vigil.db.sequences import allocate_ids
from vigil.db.sqlarray import array, per_dialect
from vigil.outbox.models import OutboxEvent

_alerts = cast(Table, Alert.__table__)
_events = cast(Table, AlertEventRecord.__table__)
_outbox = cast(Table, OutboxEvent.__table__)
_per_hour = cast(Table, AlertsPerHour.__table__)


_UPDATE_COLUMNS = (
    "status", "severity", "name", "summary", "description", "service", "environment",
    "labels", "annotations", "links", "ends_at", "last_received_at", "occurrences",
    "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "suppressed_by",
)


# The open alerts a batch touches, in SQL for the driver (bulk.select_rows): the first query
# of every batch. The partial unique index (tenant_id, fingerprint) WHERE status !=
# 'resolved' answers it.
_OPEN_COLUMNS = ("id", *ALERT_COLUMNS)
_WHERE_OPEN = {
    "sqlite": ("tenant_id IN (SELECT value FROM json_each({p})) AND fingerprint IN (SELECT "
               "value FROM json_each({p})) AND status != 'resolved'"),
    "postgresql": "tenant_id = ANY({p}) AND fingerprint = ANY({p}) AND status != 'resolved'",
}


def load_open(conn: Connection, batch: Sequence[Submission]) -> list[AlertState]:
    d = conn.dialect.name
    rows = bulk.select_rows(conn, _alerts, _OPEN_COLUMNS, _WHERE_OPEN[d], (
        array(d, {s.tenant_id for s in batch}), array(d, {s.fingerprint for s in batch})))
    return [AlertState(*row) for row in rows]  # columns in the dataclass's order


# The latest resolved alert (by start) of each (tenant, fingerprint) asked about: one
# correlated top-1 per key, each answered by ix_alerts_resolved_fingerprint.
_LATEST_RESOLVED = (
    "(SELECT r.id FROM alerts AS r WHERE r.tenant_id = {t} AND r.fingerprint = {f} "
    "AND r.status = 'resolved' ORDER BY r.starts_at DESC, r.id DESC LIMIT 1)")
_WHERE_LAST_RESOLVED = {
    "sqlite": ("id IN (SELECT " + _LATEST_RESOLVED.format(
        t="json_extract(k.value, '$[0]')", f="json_extract(k.value, '$[1]')")
        + " FROM json_each({p}) AS k)"),
    # (= ANY of an ARRAY: an InitPlan, then the primary key; "IN (SELECT ...)" is planned
    # as a hash join over a scan of every alert.)
    "postgresql": ("id = ANY(ARRAY(SELECT " + _LATEST_RESOLVED.format(t="k.t", f="k.f")
                   + " FROM unnest(CAST({p} AS bigint[]), CAST({p} AS text[])) AS k(t, f)))"),
}


def load_last_resolved(conn: Connection, batch: Sequence[Submission],
                       open_alerts: Iterable[AlertState]) -> dict[tuple[int, str], AlertState]:
    """For the batch's triggers from sources whose notifications carry their start
    (Alertmanager, Grafana) that find no open alert: the latest resolved alert of each
    fingerprint, by which ``dedup.decide`` tells a stale re-send from a new firing. One
    query, and none when no trigger needs it."""
    known = {(a.tenant_id, a.fingerprint) for a in open_alerts}
    keys = sorted({(s.tenant_id, s.fingerprint) for s in batch
                   if s.event.starts_at is not None and s.event.source in STARTS_AT_SOURCES
                   and s.event.action is Action.TRIGGER}
                  - known)
    if not keys:
        return {}
    d = conn.dialect.name
    params: tuple[Any, ...] = (
        (orjson.dumps(keys).decode(),) if d == "sqlite"
        else ([t for t, _ in keys], [f for _, f in keys]))
    rows = bulk.select_rows(conn, _alerts, _OPEN_COLUMNS, _WHERE_LAST_RESOLVED[d], params)
    return {(a.tenant_id, a.fingerprint): a for a in (AlertState(*row) for row in rows)}




_ALERT_INSERT_COLUMNS = ("id", *ALERT_COLUMNS)
_EVENT_COLUMNS = ("tenant_id", "alert_id", "integration_id", "fingerprint", "action", "outcome",
                  "actor", "received_at", "payload")
_OUTBOX_COLUMNS = ("tenant_id", "topic", "aggregate", "payload", "created_at", "available_at",
                   "attempts")


# The raw payload is stored once, with the event that carried it (``alert_events``); the
# alert row keeps an empty object and the API shows the latest event's payload.
_EMPTY: dict[str, object] = {}


def write(conn: Connection, decision: Decision, *, alert_events: bool = True,
          moved: Sequence[AlertState] = ()) -> None:
    """Insert and update the batch's alerts and their history; with ``alert_events``, also
    the alert-level outbox events. ``moved``: existing alerts that correlation moved to
    another incident (their ``incident_id``, which is otherwise never updated here)."""
    if decision.changed:
        # First: an alert resolved in this batch leaves the open-fingerprint index before
        # the batch's new alert with that fingerprint (it fired again) goes in.
        bulk.update_objects(conn, _alerts, _UPDATE_COLUMNS, "id",
                            list(decision.changed.values()))
    if moved:
        bulk.update_objects(conn, _alerts, ("incident_id",), "id", moved)
    if decision.new:
        # Ids are taken up front so the rows go in one executemany, not one INSERT ...
        # RETURNING per row (which is what SQLite needs to keep RETURNING in order).
        ids = allocate_ids(conn, _alerts, len(decision.new))
        for alert, new_id in zip(decision.new, ids, strict=True):
            alert.id = new_id
        bulk.insert_objects(conn, _alerts, _ALERT_INSERT_COLUMNS, decision.new,
                            const={"raw": _EMPTY})
        count_per_hour(conn, decision.new)
    if decision.history:
        rows = []
        for h in decision.history:
            sub, ev = h.submission, h.submission.event
            rows.append([sub.tenant_id, h.alert.id if h.alert is not None else None,
                         sub.integration_id, sub.fingerprint, ev.action.value,
                         h.outcome.value, ev.actor, h.received_at, ev.raw])
        bulk.insert_rows(conn, _events, _EVENT_COLUMNS, rows)
    if decision.outbox and alert_events:
        now = decision.history[-1].received_at
        bulk.insert_rows(conn, _outbox, _OUTBOX_COLUMNS, [
            [o.alert.tenant_id, o.topic, f"alert:{o.alert.id}",
             dict(o.payload, alert_id=o.alert.id), now, now, 0]
            for o in decision.outbox
        ])


def count_per_hour(conn: Connection, alerts: Sequence[AlertState]) -> None:
    """Add the new alerts to the per-hour rollup (one upsert per tenant and hour)."""
    # A batch's alerts share one receive time: count by it first, then round to the hour.
    by_time: Counter[tuple[int, datetime]] = Counter(
        (a.tenant_id, a.first_received_at) for a in alerts)
    counts: Counter[tuple[int, datetime]] = Counter()
    for (tenant, at), n in by_time.items():
        counts[tenant, at.replace(minute=0, second=0, microsecond=0)] += n
    conn.execute(_COUNT_HOUR[conn.dialect.name], [{"tenant_id": t, "hour": h, "alerts": n}
                                                  for (t, h), n in sorted(counts.items())])


def _count_hour(dialect: str) -> Any:
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(_per_hour)
    return stmt.on_conflict_do_update(index_elements=["tenant_id", "hour"],
                                      set_={"alerts": _per_hour.c.alerts + stmt.excluded.alerts})


_COUNT_HOUR = per_dialect(_count_hour)
