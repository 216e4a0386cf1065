"""Delivery: from the outbox to people's phones, exactly when due, never twice, never lost.

Three steps, run by the notifier thread (``worker/notifier.py``):

1. ``notify.planning`` (the notifier's outbox consumer) writes one ``deliveries`` row per
   notification: escalation intents and routing-rule matches for incident events. The
   row's ``key`` is unique, so planning twice plans nothing new.
2. ``claim`` (one transaction) takes the due rows (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL), drops those an acknowledgement or resolution made moot, holds back those
   over their channel's rate limit, folds a burst about one incident to one address into
   one message, and leases the rest (``sending``, ``lease_until``).
3. ``send`` runs the adapters outside any transaction; ``record`` (one transaction) stores
   each outcome: sent; retrying with exponential backoff and jitter (or the provider's
   Retry-After); or, after ``max_attempts``, dead, which is put on the incident's timeline.

A crash after sending but before recording leaves the row leased; when the lease ends it
is sent again with the same key, which the channels pass on (email ``Message-ID``, webhook
``X-Vigil-Key``, PagerDuty ``dedup_key``) so receivers that deduplicate see it once.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.orm import Session

from vigil.alerts.models import Alert
from vigil.auth import signing
from vigil.auth.secrets_at_rest import SecretKeyError
from vigil.core.severity import SEVERITY_LABELS
from vigil.incidents.models import Incident, IncidentEvent
from vigil.notify import links, templates
from vigil.notify import service as svc
from vigil.notify.base import Message, Result
from vigil.notify.models import Delivery, NotificationChannel, TemplateOverride

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 6
BACKOFF_BASE = 10.0  # seconds: 10, 20, 40, 80, ... with +-20% jitter, capped at an hour


@dataclass
class Claim:
    id: int
    key: str
    kind: str
    config: dict[str, Any]
    channel_name: str
    address: str
    event: str
    message: Message
    folded: list[int] = field(default_factory=list)
    seconds: float = 0.0


def is_due(now: datetime) -> ColumnElement[bool]:
    """Deliveries to (re)try now: pending or retrying and due, or leased by a pass whose
    lease ran out."""
    return (((Delivery.status.in_(("pending", "retrying"))) & (Delivery.next_attempt_at <= now))
            | ((Delivery.status == "sending") & (Delivery.lease_until <= now)))


@dataclass
class PassCache:
    """What a pass reads once for all its deliveries: a memo of one transaction, dropped
    with it. Not a ``configstate.StateCache``: it holds operational rows (incidents,
    alerts) that are only as fresh as the pass's own reads, never outlives the pass, and
    no version could say when it holds, since incidents change with every batch."""

    incidents: dict[int, Incident] = field(default_factory=dict)
    first_alert: dict[int, Alert | None] = field(default_factory=dict)
    overrides: dict[tuple[int, str, str], TemplateOverride | None] = field(default_factory=dict)

    def preload(self, session: Session, incident_ids: set[int]) -> None:
        wanted = sorted(incident_ids - self.first_alert.keys())
        if not wanted:
            return
        self.incidents.update((i.id, i) for i in session.scalars(
            select(Incident).where(Incident.id.in_(wanted))))
        firsts = select(func.min(Alert.id)).where(Alert.incident_id.in_(wanted)) \
            .group_by(Alert.incident_id)
        found = {a.incident_id: a for a in session.scalars(select(Alert).where(
            Alert.id.in_(firsts.scalar_subquery())))}
        for i in wanted:
            self.first_alert[i] = found.get(i)


def _context(session: Session, inc: Incident | None, base_url: str, key: bytes,
             now: datetime, cache: PassCache | None = None, *, event: str | None = None,
             recipient: str | None = None) -> dict[str, Any]:
    """The template context of a notification about ``inc`` (None: a test message).
    ``recipient`` (a username) is signed into the action links, so what they do is
    recorded as by that person. Once the incident is over (or the notice is that it was
    resolved) there are no action links, and its resolution note is shown."""
    if inc is None:
        return {"incident": {"title": "Test notification from Vigil", "status": "test",
                             "severity": "info", "services": [], "number": None,
                             "resolution": None},
                "labels": {}, "links": [], "url": base_url, "ack_url": "",
                "resolve_url": "", "recipient": recipient}
    if cache is not None and inc.id in cache.first_alert:
        alert = cache.first_alert[inc.id]
    else:
        alert = session.scalars(select(Alert).where(Alert.incident_id == inc.id)
                                .order_by(Alert.id).limit(1)).first()
    url = f"{base_url}/ui/incidents/{inc.id}"
    over = event == "resolved" or inc.status not in ("firing", "acknowledged", "investigating")
    return {
        "incident": {"id": inc.id, "number": inc.number, "title": inc.title,
                     "summary": inc.summary, "status": inc.status,
                     "severity": SEVERITY_LABELS[inc.severity], "priority": inc.priority,
                     "services": inc.services, "team": inc.team, "assignee": inc.assignee,
                     "resolution": inc.resolution if over else None},
        "labels": templates.key_labels(alert.labels if alert else {}),
        "links": templates.alert_links(alert.links if alert else []), "url": url,
        "ack_url": "" if over else
        f"{base_url}/a/{links.sign(key, inc.id, 'acknowledge', now, recipient=recipient)}",
        "resolve_url": "" if over else
        f"{base_url}/a/{links.sign(key, inc.id, 'resolve', now, recipient=recipient)}",
        "recipient": recipient,
    }


def message_for(session: Session, d: Delivery, kind: str, base_url: str, key: bytes,
                now: datetime, cache: PassCache | None = None) -> Message:
    inc = _incident(session, d.incident_id, cache)
    ctx = _context(session, inc, base_url, key, now, cache, event=d.event,
                   recipient=d.recipient)
    which = (d.tenant_id, kind, d.event)
    if cache is not None and which in cache.overrides:
        override = cache.overrides[which]
    else:
        override = session.scalars(select(TemplateOverride).where(
            TemplateOverride.tenant_id == d.tenant_id, TemplateOverride.kind == kind,
            TemplateOverride.event == d.event)).first()
        if cache is not None:
            cache.overrides[which] = override
    if d.payload.get("title") and d.payload.get("text"):  # a notice with its own words
        title, text, html = str(d.payload["title"]), str(d.payload["text"]), ""
    else:
        title, text, html = templates.render(kind, d.event, ctx, (override.title,
                                                                  override.body)
                                             if override else None)
    # The structured event (webhook bodies): the incident, and who is paged (a username;
    # None for routed messages).
    payload = {"incident": ctx["incident"], "event": d.event, "recipient": d.recipient}
    return Message(key=d.key, event=d.event, title=title, text=text, html=html,
                   severity=ctx["incident"]["severity"], urgency=d.payload.get("urgency", "high"),
                   incident_id=inc.id if inc else None,
                   incident_number=inc.number if inc else None, url=ctx["url"],
                   ack_url=ctx["ack_url"], resolve_url=ctx["resolve_url"], address=d.address,
                   fields=ctx["labels"], payload=payload)


def _incident(session: Session, incident_id: int | None,
              cache: PassCache | None) -> Incident | None:
    if incident_id is None:
        return None
    if cache is not None and incident_id in cache.incidents:
        return cache.incidents[incident_id]
    return session.get(Incident, incident_id)


def claim(session: Session, now: datetime, base_url: str, limit: int = 500) -> list[Claim]:
    stmt = (select(Delivery).where(is_due(now))
            .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    due = list(session.scalars(stmt))
    if not due:
        return []
    key = signing.secret(session)
    cache = PassCache()
    cache.preload(session, {d.incident_id for d in due if d.incident_id is not None})
    # News about an incident for a target waits while an earlier message to it is still
    # being sent (by an overlapping pass or another node): order per target is kept,
    # and Slack threads and email replies find the first message's id.
    ids = sorted({d.incident_id for d in due if d.incident_id is not None})
    busy = {(c, i, a) for c, i, a in session.execute(select(
        Delivery.channel_id, Delivery.incident_id, Delivery.address).where(
        Delivery.incident_id.in_(ids), Delivery.status == "sending",
        Delivery.lease_until > now))} if ids else set()
    due = [d for d in due if (d.channel_id, d.incident_id, d.address) not in busy]
    with session.no_autoflush:  # the rows changed here are written once, at the end
        claims = _claim_rows(session, due, now, base_url, key, cache)
    return claims


def _claim_rows(session: Session, due: list[Delivery], now: datetime, base_url: str,
                key: bytes, cache: PassCache) -> list[Claim]:
    claims: list[Claim] = []
    by_target: dict[tuple[Any, ...], Claim] = {}
    first_tries: set[int] = set()  # rows claimed in this pass for their first attempt
    taken: dict[tuple[int, str], int] = {}  # claimed in this pass, per channel and address
    sent_recently: dict[tuple[int, str], int] = {}
    channels: dict[int | None, NotificationChannel | None] = {}
    for d in due:
        inc = _incident(session, d.incident_id, cache)
        # A page that an acknowledgement or resolution made moot is not sent.
        if d.recipient and inc is not None and d.event in ("triggered", "escalated") and (
                inc.status not in ("firing", "acknowledged", "investigating") or (
                    inc.acknowledged_at is not None and d.created_at <= inc.acknowledged_at)):
            # Paged before the acknowledgement (or the incident is over): moot. A page made
            # after it (an acknowledgement that timed out and re-triggered) still goes.
            d.status, d.updated_at = "cancelled", now
            d.last_error = f"incident is {inc.status}"
            continue
        if d.channel_id not in channels:
            channels[d.channel_id] = session.get(NotificationChannel, d.channel_id) \
                if d.channel_id else None
        chan = channels[d.channel_id]
        if chan is None or not chan.enabled:
            d.status, d.last_error, d.updated_at = "dead", "channel is gone or disabled", now
            continue
        try:
            config = svc.channel_config(session, chan)
        except SecretKeyError as exc:  # logged and in /health; waits for the right key
            d.next_attempt_at, d.last_error, d.updated_at = now + LEASE, exc.message, now
            continue
        pair = (chan.id, d.address)
        if pair not in sent_recently:
            # Sent in the last minute (index ix_deliveries_rate), and being sent now by
            # an overlapping pass or another node (few rows: index ix_deliveries_due).
            sent = session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.channel_id == chan.id, Delivery.address == d.address,
                Delivery.sent_at > now - timedelta(minutes=1))) or 0
            sending = session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.status == "sending", Delivery.lease_until > now,
                Delivery.channel_id == chan.id, Delivery.address == d.address)) or 0
            sent_recently[pair] = sent + sending
        recent = sent_recently[pair] + taken.get(pair, 0)
        target = (chan.id, d.address, d.incident_id)
        if d.incident_id is not None and target in by_target and d.attempts == 0 \
                and by_target[target].id in first_tries:
            # A burst about one incident to one address: one message, not one each. Only
            # first tries fold: a re-send keeps its old key, which a receiver that drops
            # keys it has seen would drop, and a new page folded into it with it.
            by_target[target].folded.append(d.id)
            d.status, d.updated_at = "coalesced", now
            d.last_error = f"folded into delivery {by_target[target].id}"
            continue
        if recent >= chan.rate_per_minute:  # queued, not dropped
            d.next_attempt_at = now + timedelta(seconds=60 / max(chan.rate_per_minute, 1))
            continue
        if d.attempts == 0:
            first_tries.add(d.id)
        d.status, d.lease_until, d.updated_at = "sending", now + LEASE, now
        d.attempts += 1
        taken[chan.id, d.address] = taken.get((chan.id, d.address), 0) + 1
        msg = message_for(session, d, chan.kind, base_url, key, now, cache)
        if chan.kind in ("slack", "email") and d.incident_id is not None:
            # Later news about an incident goes in the first message's thread (Slack edits
            # it too); email replies to it.
            first = session.scalars(select(Delivery.provider_id).where(
                Delivery.channel_id == chan.id, Delivery.incident_id == d.incident_id,
                Delivery.address == d.address, Delivery.status == "sent",
                Delivery.provider_id.is_not(None)).order_by(Delivery.id).limit(1)).first()
            if first:
                msg = replace(msg, thread=first)
        if chan.kind == "webhook" and chan.personal and d.recipient and d.address:
            # A person's own webhook contact method: post to its URL, not the personal
            # channel's (which still gives the secret, headers and timeout).
            config["url"] = d.address
        c = Claim(d.id, d.key, chan.kind, config, chan.name, d.address, d.event, msg)
        claims.append(c)
        by_target[target] = c
    return claims


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
SEND_WORKERS = 32


def _senders() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SEND_WORKERS, thread_name_prefix="vigil-send")
        return _pool


def send(claims: list[Claim]) -> list[tuple[Claim, Result]]:
    """Each claim's outcome (in order); ``Claim.seconds`` is how long its attempt took.
    Sends run side by side on a pool of threads that lives as long as the process (they
    mostly wait on the network); one adapter per channel config and pass."""
    from vigil.notify.channels import build

    adapters: dict[str, Any] = {}

    def one(c: Claim) -> tuple[Claim, Result]:
        started = time.perf_counter()
        try:
            ident = f"{c.kind}:{sorted(c.config.items())!r}"
            adapter = adapters.get(ident)
            if adapter is None:
                adapter = adapters[ident] = build(c.kind, c.config)
            wants = getattr(adapter, "wants", None)
            if wants is not None and not wants(c.event):
                return c, Result(ok=True, detail="not subscribed to this event")
            result = adapter.send(c.message)
        except Exception as exc:  # a broken adapter or config must not stop the others
            result = Result(ok=False, retryable=True, detail=f"{type(exc).__name__}: {exc}")
        c.seconds = time.perf_counter() - started
        return c, result

    if len(claims) <= 1:
        return [one(c) for c in claims]
    return list(_senders().map(one, claims))


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    base = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), 3600.0)
    jitter = (rng or random).uniform(0.8, 1.2)
    return timedelta(seconds=base * jitter)


@dataclass(frozen=True)
class Dead:
    """A delivery that just died (for the notifier's self-alert)."""

    id: int
    tenant_id: int
    channel_kind: str
    last_error: str


def record(session: Session, results: list[tuple[Claim, Result]], now: datetime,
           max_attempts: int = MAX_ATTEMPTS) -> list[Dead]:
    """Store outcomes (and each attempt's latency in the row's ``payload.attempts``) in one
    bulk UPDATE and one bulk INSERT of timeline entries; returns the deliveries that just
    died (for a self-alert)."""
    if not results:
        return []
    t = Delivery.__table__
    found = {r.id: r for r in session.execute(select(
        t.c.id, t.c.tenant_id, t.c.incident_id, t.c.attempts, t.c.payload, t.c.recipient,
        t.c.event, t.c.channel_kind, t.c.next_attempt_at, t.c.sent_at, t.c.provider_id)
        .where(t.c.id.in_([c.id for c, _ in results])))}
    updates: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    dead: list[Dead] = []
    for c, r in results:
        row = found.get(c.id)
        if row is None:
            continue
        payload = dict(row.payload or {})
        payload["attempts"] = [*payload.get("attempts", [])[-9:], {
            "at": now.isoformat(), "ok": r.ok, "seconds": round(c.seconds, 4),
            "detail": r.detail[:200]}]
        change = {"id": row.id, "updated_at": now, "lease_until": None, "payload": payload,
                  "sent_at": row.sent_at, "provider_id": row.provider_id,
                  "next_attempt_at": row.next_attempt_at}
        who = row.recipient or c.channel_name
        if r.ok:
            change.update(status="sent", sent_at=now, provider_id=r.provider_id,
                          last_error=None)
            if row.incident_id:
                notes.append(_note(row, now, "notified",
                                   f"Notified {who} via {c.kind} ({row.event})"))
        elif r.retryable and row.attempts < max_attempts:
            wait = timedelta(seconds=r.retry_after) if r.retry_after else backoff(row.attempts)
            change.update(status="retrying", last_error=r.detail[:2000],
                          next_attempt_at=now + wait)
        else:
            change.update(status="dead", last_error=r.detail[:2000])
            dead.append(Dead(row.id, row.tenant_id, row.channel_kind, r.detail[:2000]))
            if row.incident_id:
                notes.append(_note(row, now, "notify_failed",
                                   f"Notification to {who} via {c.kind} failed after "
                                   f"{row.attempts} attempts: {r.detail[:300]}"))
        updates.append(change)
    if updates:
        session.execute(update(Delivery), updates)  # executemany by primary key
    if notes:
        session.execute(insert(IncidentEvent), notes)
    return dead


def _note(row: Any, now: datetime, kind: str, message: str) -> dict[str, Any]:
    return {"tenant_id": row.tenant_id, "incident_id": row.incident_id, "at": now,
            "actor": "notifier", "kind": kind, "before": {}, "after": {}, "message": message}
