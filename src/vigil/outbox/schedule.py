"""Who runs each outbox consumer, and when: one registry, one owner, one schedule.

A *scheduled consumer* (``Scheduled``) is one consumer's whole pass: the outbox events past
its cursor (through ``outbox.consumer.run``, so one event it cannot handle is retried,
then parked, and never holds up the others) and any time-driven work it owns (the
escalation engine's due steps). Its ``due`` is a read that says whether the pass would find
anything, so an idle pass takes no write lock; its ``run`` does the pass in its own
transactions and returns what it did and what went wrong as values (``Ran``): counts,
events parked, failures that are no event's (an escalation step that could not fire).

``run_due`` runs a registry's consumers in their order, each one when it is due or when a
consumer before it did a pass (that pass may have written events for the later ones: the
engine's pages are the planner's input, so a page leaves within one pass). The registry
itself is ``worker.consumers.CONSUMERS``: its owner is the notifier loop, which runs it once
a pass. Nodes sharing PostgreSQL take turns on each consumer's cursor row lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select

from vigil.db import Database
from vigil.outbox.consumer import Consumer, Outcome, Parked, Retry


@dataclass(frozen=True)
class Failure:
    """Work a consumer owns that failed outside any outbox event (for the self-alert)."""

    consumer: str
    tenant_id: int
    incident_id: int | None
    what: str  # what could not be done ("fire an escalation step")
    error: str


@dataclass
class Ran:
    """What passes did: counts by name, events parked (each a self-alert), failures that
    are no event's (each a self-alert), and failed attempts by consumer (retried later)."""

    counts: dict[str, int] = field(default_factory=dict)
    parked: list[Parked] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    attempts_failed: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, outcome: Outcome, counts: dict[str, int],
           failed: Sequence[Failure] = ()) -> Ran:
        return cls(dict(counts), list(outcome.parked), list(failed), {name: outcome.failed})

    def add(self, other: Ran) -> None:
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.parked += other.parked
        self.failed += other.failed
        for key, n in other.attempts_failed.items():
            self.attempts_failed[key] = self.attempts_failed.get(key, 0) + n


@dataclass(frozen=True)
class Scheduled:
    """One consumer as its owner runs it: its name (its cursor's), the outbox consumers
    whose lag ``/health`` reports, whether it has work (a read) and its pass."""

    name: str
    consumers: tuple[Consumer[Any], ...]
    due: Callable[[datetime], ColumnElement[bool]]
    run: Callable[[Database, datetime, Retry], Ran]
    #: The counts its pass reports, all of them (zero when it did not run).
    counts: tuple[str, ...] = ()


def idle(registry: Sequence[Scheduled]) -> Ran:
    """What a registry reports when nothing was due: every count, zero."""
    return Ran({key: 0 for sc in registry for key in sc.counts})


def due_checks(registry: Sequence[Scheduled], now: datetime) -> list[ColumnElement[bool]]:
    """The registry's ``due`` reads, in its order (for one SELECT of them all)."""
    return [sc.due(now) for sc in registry]


def run_due(db: Database, registry: Sequence[Scheduled], now: datetime, retry: Retry,
            due: Sequence[bool] | None = None) -> tuple[Ran, list[str]]:
    """Run the registry's consumers in order, each when due or when one before it ran.
    ``due`` is what ``due_checks`` read, if the caller read it with its own checks; else it
    is read here. Returns what they did and the names of those that ran."""
    if due is None:
        with db.read() as s:  # one read for all: an idle pass takes no write lock
            due = list(s.execute(select(*due_checks(registry, now))).one()) \
                if registry else []
    total, ran = idle(registry), list[str]()
    for sc, is_due in zip(registry, due, strict=True):
        if not (is_due or ran):
            continue
        total.add(sc.run(db, now, retry))
        ran.append(sc.name)
    return total, ran
