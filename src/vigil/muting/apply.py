"""Which of a batch's triggers stay quiet, and why: silences, maintenance windows,
inhibition rules and flapping, in that order of precedence. The edge around the pure
``rules`` modules: it loads what they need (cached rules, inhibition sources, flap states)
inside the batch's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection

from vigil.alerts.dedup import AlertState, stale
from vigil.configstate import StateCache, Versions
from vigil.core.event import Action
from vigil.core.submission import Submission
from vigil.muting import store as rule_store
from vigil.muting.flapping import DEFAULT_THRESHOLD, DEFAULT_WINDOW, FlapState, flapping, record
from vigil.muting.inhibition import InhibitRule, inhibited, source_query
from vigil.muting.maintenance import ActiveWindow, in_maintenance
from vigil.muting.silences import ActiveSilence, muted

FLAPPING = "flapping"


@dataclass
class Muting:
    """One node's muting rules (each cached while none changes, ``configstate``) and the
    flapping policy."""

    silences: StateCache[list[ActiveSilence]]
    windows: StateCache[list[ActiveWindow]]
    inhibitions: StateCache[list[InhibitRule]]
    flap_threshold: int = DEFAULT_THRESHOLD
    flap_window: timedelta = DEFAULT_WINDOW

    @classmethod
    def following(cls, versions: Versions) -> Muting:
        """Muting rules cached for the database whose ``versions`` they follow."""
        return cls(rule_store.silence_cache(versions), rule_store.window_cache(versions),
                   rule_store.inhibition_cache(versions))


@dataclass
class FlapChanges:
    states: dict[tuple[int, str], FlapState] = field(default_factory=dict)
    existing: set[tuple[int, str]] = field(default_factory=set)


def mutes(conn: Connection, m: Muting, batch: list[Submission], open_alerts: list[AlertState],
          now: datetime, resolved: Mapping[tuple[int, str], AlertState] | None = None,
          ) -> tuple[dict[int, str], FlapChanges]:
    """Index in ``batch`` -> why that trigger is muted; and the flap states to save.
    ``resolved`` (``store.load_last_resolved``) tells stale re-sends, which change
    nothing, from new firings."""
    out: dict[int, str] = {}
    silences = rule_store.active_silences(m.silences, conn, {s.tenant_id for s in batch}, now)
    for i, sid in muted(silences, batch).items():
        out[i] = f"silence:{sid}"
    windows = m.windows.get(conn)
    if windows:
        for i, wid in in_maintenance(windows, batch, now).items():
            out.setdefault(i, f"maintenance:{wid}")
    rules = m.inhibitions.get(conn)
    if rules:
        sources = rule_store.inhibition_sources(conn, source_query(rules))
        for i, rid in inhibited(rules, sources, batch).items():
            out.setdefault(i, f"inhibited:{rid}")
    return out, _flapping(conn, m, batch, open_alerts, now, out, resolved or {})


def _flapping(conn: Connection, m: Muting, batch: list[Submission],
              open_alerts: list[AlertState], now: datetime, out: dict[int, str],
              resolved: Mapping[tuple[int, str], AlertState]) -> FlapChanges:
    """An alert identity is tracked from its first resolve on: each later fire (a new alert
    for the fingerprint) and resolve is a change; while it flaps, its new alerts are muted."""
    current = {(a.tenant_id, a.fingerprint): a for a in open_alerts}
    keys: set[tuple[int, str]] = set()
    for s in batch:
        key = (s.tenant_id, s.fingerprint)
        alert = current.get(key)
        if s.event.action is Action.TRIGGER:
            if alert is None and (last := resolved.get(key)) is not None and \
                    stale(last, s.event):
                continue  # a re-send of a resolved alert's firing: not a change
            if alert is None or alert.suppressed_by == FLAPPING:
                keys.add(key)
        elif s.event.action is Action.RESOLVE and alert is not None:
            keys.add(key)
    states = rule_store.load_flaps(conn, keys) if keys else {}
    changes = FlapChanges(existing=set(states))
    is_open = {k: k in current for k in keys}
    threshold, window = m.flap_threshold, m.flap_window
    for i, s in enumerate(batch):
        key = (s.tenant_id, s.fingerprint)
        if key not in keys:
            continue
        state = states.get(key)
        if s.event.action is Action.TRIGGER:
            if not is_open[key] and (last := resolved.get(key)) is not None and \
                    stale(last, s.event):
                continue
            if not is_open[key]:
                is_open[key] = True
                if state is None:
                    continue
                state = states[key] = changes.states[key] = record(state, now, threshold=threshold,
                                                           window=window)
            if state is not None and flapping(state, now, threshold=threshold, window=window):
                out.setdefault(i, FLAPPING)
        elif s.event.action is Action.RESOLVE and is_open[key]:
            is_open[key] = False
            states[key] = changes.states[key] = record(state or FlapState(), now,
                                                         threshold=threshold, window=window)
    return changes


def save(conn: Connection, changes: FlapChanges, now: datetime) -> None:
    if changes.states:
        rule_store.save_flaps(conn, changes.states, now, changes.existing)
