"""The whole paging journey as a stateful property test, on both databases.

A hypothesis ``RuleBasedStateMachine`` drives the real app (create_app over a real
database, a FakeClock, the background jobs run synchronously after every step the way the
scheduler tick and the notifier would run them) with Alertmanager alert events, people's
actions through the API and clock steps. Pages go to a real HTTP receiver on 127.0.0.1
through a personal webhook channel. After every step it checks:

* every incident that becomes firing reaches step 1 of its escalation policy exactly once
  per firing episode (an episode starts when the incident is created or reopened and ends
  when it is resolved, merged or closed): one step-1 intent, and one step-1 page at the
  receiver;
* no step fires for an incident outside a firing episode, and a stale re-send (a firing
  notification with the startsAt of an alert its source resolved) opens no alert and
  reopens no incident;
* no consumer is stuck: nothing escaped a pass (what the worker loops would log as a
  traceback), and the ``escalation`` and ``delivery`` cursors have reached the newest event
  of their topics, or the events they passed over are recorded in ``outbox_failures``;
* every page names an existing incident, and none is sent for an incident that is
  resolved, merged or closed at the time.

The set-up (a user with a webhook contact method and a high-urgency rule, the personal
webhook channel, a two-step policy that repeats, the service using it, correlation rules
resolving on all, first and last) is made once per database through the API; each example
starts from a copy of it with a new app (both in ``paging_world``). Every step takes one
second of the FakeClock.
Written after the first incident that resolved by itself stopped every later page: its
``incident.status_changed`` event had ``previous`` as a string, and both consumers failed
on that event on every pass from then on.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from paging_world import (
    ALERTS,
    CONSUMERS,
    INTENT,
    OVER,
    SERVICE,
    SOURCE,
    START,
    Episode,
    ErrorLog,
    Page,
    World,
    _api,
    _iso,
    make_world,
)
from sqlalchemy import select

from channel_servers import RecordingServer
from vigil.alerts.models import Alert
from vigil.app import create_app
from vigil.clock import FakeClock
from vigil.config import Settings
from vigil.context import Context
from vigil.core.status import OPEN_STATUSES
from vigil.incidents.models import Incident
from vigil.outbox.models import OutboxCursor, OutboxEvent, OutboxFailure
from vigil.worker import notifier
from vigil.worker.tick import tick


class PagingJourney(RuleBasedStateMachine):
    """Subclassed per test with the ``world`` it runs in (``on``)."""

    world: ClassVar[World]
    examples: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        PagingJourney.examples += 1
        self.clock = FakeClock(START)
        self.receiver = world.receiver
        self.first_request = len(world.receiver.requests)
        self.admin, self.am_key = world.admin, world.am_key
        app = create_app(Settings(database_url=world.fresh(PagingJourney.examples)),
                         clock=self.clock, run_background_jobs=False)
        self.ctx: Context = app.state.ctx
        self.stack = ExitStack()
        self.errors = ErrorLog()
        logging.getLogger("vigil").addHandler(self.errors)
        self.stack.callback(logging.getLogger("vigil").removeHandler, self.errors)
        self.client: TestClient = self.stack.enter_context(TestClient(app))
        self.steps: list[str] = []  # what was done, for the failure messages
        self.starts: dict[tuple[str, str], datetime] = {}  # each alert's last startsAt
        self.status: dict[int, str] = {}  # each incident's status as last seen
        self.episodes: dict[int, list[Episode]] = {}
        self.stray: list[str] = []  # steps fired for an incident outside an episode
        self.stale_counted: list[str] = []  # stale re-sends that opened or reopened something
        self.pages: list[Page] = []
        self.pages_checked = 0
        self.escaped: list[str] = []  # tracebacks that escaped a pass
        self.seen_outbox = 0

    def teardown(self) -> None:
        self.stack.close()

    def api(self, method: str, path: str, body: Any = None) -> Any:
        return _api(self.client, self.admin, method, path, body)

    # -- alert events ---------------------------------------------------------------------

    def send_alert(self, which: tuple[str, str], status: str, starts: datetime) -> None:
        name, instance = which
        entry: dict[str, Any] = {
            "status": status, "startsAt": _iso(starts),
            "labels": {"alertname": name, "service": SERVICE, "severity": "critical",
                       "instance": instance},
            "annotations": {"summary": f"{name} on {instance}"}}
        if status == "resolved":
            entry["endsAt"] = _iso(self.clock.now())
        resp = self.client.post(f"/api/v1/ingest/alertmanager/{self.am_key}",
                                json={"version": "4", "status": status, "alerts": [entry]})
        assert resp.status_code == 202, resp.text

    @rule(which=st.sampled_from(ALERTS))
    def fire_alert(self, which: tuple[str, str]) -> None:
        """A firing notification with a new startsAt: a new alert, or a new occurrence."""
        self.starts[which] = self.clock.now()
        self.send_alert(which, "firing", self.starts[which])
        self.settle(f"fire {which}")

    @precondition(lambda self: bool(self.starts))
    @rule(n=st.integers(0, len(ALERTS) - 1))
    def resolve_alert(self, n: int) -> None:
        which = sorted(self.starts)[n % len(self.starts)]
        self.send_alert(which, "resolved", self.starts[which])
        self.settle(f"resolve {which}")

    @precondition(lambda self: bool(self.starts))
    @rule(n=st.integers(0, len(ALERTS) - 1))
    def resend_firing(self, n: int) -> None:
        """The last firing notification again, same labels and startsAt: a re-send while
        the alert is open, a stale notification once its source has resolved it (which
        opens no alert, reopens no incident and pages nobody: docs/integrations.md)."""
        which = sorted(self.starts)[n % len(self.starts)]
        before = self.latest_alert(which)
        stale = before is not None and before[1:] == ("resolved", SOURCE, self.starts[which])
        episodes = sum(len(eps) for eps in self.episodes.values())
        self.send_alert(which, "firing", self.starts[which])
        what = f"re-send firing {which} (startsAt {_iso(self.starts[which])})"
        self.settle(what + (" after its source resolved it" if stale else ""))
        began = sum(len(eps) for eps in self.episodes.values()) - episodes
        if stale and (self.latest_alert(which) != before or began):
            self.stale_counted.append(f"{what}: alert {before} became "
                                      f"{self.latest_alert(which)}, {began} incidents reopened")

    def latest_alert(self, which: tuple[str, str]) -> tuple[int, str, str | None,
                                                          datetime | None] | None:
        """The newest alert of this identity: (id, status, resolved_by, starts_at)."""
        with self.ctx.db.read() as s:
            rows = [(a.id, a.status, a.resolved_by, a.starts_at) for a in s.scalars(
                select(Alert).where(Alert.name == which[0]))
                if a.labels.get("instance") == which[1]]
        return max(rows) if rows else None

    # -- people ---------------------------------------------------------------------------

    def incident(self, n: int) -> int:
        ids = sorted(self.status)
        return ids[n % len(ids)]

    def act(self, n: int, action: str) -> None:
        iid = self.incident(n)
        resp = self.api("POST", f"/api/v1/incidents/{iid}/{action}")
        assert resp.status_code in (200, 409), resp.text
        if resp.status_code == 409:
            assert resp.json()["error"]["field"] == "status", resp.text
        self.settle(f"{action} incident {iid} (was {self.status[iid]}): {resp.status_code}")

    @precondition(lambda self: bool(self.status))
    @rule(n=st.integers(0, 7))
    def acknowledge(self, n: int) -> None:
        self.act(n, "acknowledge")

    @precondition(lambda self: bool(self.status))
    @rule(n=st.integers(0, 7))
    def resolve(self, n: int) -> None:
        self.act(n, "resolve")

    @precondition(lambda self: bool(self.status))
    @rule(n=st.integers(0, 7))
    def reopen(self, n: int) -> None:
        self.act(n, "reopen")

    @precondition(lambda self: bool(self.status))
    @rule(n=st.integers(0, 7))
    def close(self, n: int) -> None:
        self.act(n, "close")

    @precondition(lambda self: len(self.status) >= 2)
    @rule(n=st.integers(0, 7), m=st.integers(1, 7))
    def merge(self, n: int, m: int) -> None:
        ids = sorted(self.status)
        source = ids[n % len(ids)]
        target = ids[(n + m) % len(ids)]
        if source == target:
            target = ids[(n + 1) % len(ids)]
        resp = self.api("POST", f"/api/v1/incidents/{source}/merge", {"into": target})
        assert resp.status_code in (200, 409), resp.text
        if resp.status_code == 409:
            assert resp.json()["error"]["field"] in ("status", "into"), resp.text
        self.settle(f"merge incident {source} ({self.status[source]}) into {target} "
                    f"({self.status[target]}): {resp.status_code}")

    # -- time -----------------------------------------------------------------------------

    @rule(minutes=st.integers(1, 10))
    def advance(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)
        self.settle(f"advance {minutes} min (now {_iso(self.clock.now())})")

    # -- after every step: see what changed, run the background passes, see what paged ----

    def incidents_now(self) -> dict[int, tuple[str, int, bool]]:
        with self.ctx.db.read() as s:
            return {i: (st_, num, bool(pending or candidate)) for i, st_, num, pending, candidate
                    in s.execute(select(Incident.id, Incident.status, Incident.number,
                                        Incident.pending, Incident.candidate))}

    def current(self, iid: int) -> Episode | None:
        eps = self.episodes.get(iid) or []
        return eps[-1] if eps and eps[-1].ended is None else None

    def settle(self, what: str) -> None:
        self.steps.append(what)
        # Which incidents began or ended a firing episode in this step (one alert event or
        # one action changes an incident's status at most once).
        for iid, (status, number, hidden) in sorted(self.incidents_now().items()):
            if hidden:
                continue
            old = self.status.get(iid)
            self.status[iid] = status
            now_open = status in OPEN_STATUSES
            was_open = old in OPEN_STATUSES
            if now_open and not was_open:
                cause = ("created" if old is None
                         else "reopened by an alert" if what.startswith(("fire", "re-send"))
                         else "reopened by a merge" if what.startswith("merge")
                         else "reopened by a person")
                self.episodes.setdefault(iid, []).append(Episode(iid, number, cause, what))
            elif was_open and not now_open:
                ep = self.current(iid)
                assert ep is not None
                ep.ended = f"{status} at: {what}"
        self.run_passes()
        self.collect(what)
        # Nothing in a real server happens at the same instant as the step before it.
        self.clock.advance(seconds=1)

    def run_passes(self) -> None:
        """The scheduler tick, then a notifier pass, as their loops run them: an exception
        that escapes is what the loop would log as a traceback ("tick failed", "notifier
        pass failed") before trying again on its next pass."""
        for name, job in (("tick", lambda: tick(self.ctx)),
                          ("notifier pass", lambda: notifier.run_once(self.ctx))):
            try:
                job()
            except Exception:
                self.escaped.append(f"after {self.steps[-1]!r}, {name} failed:\n"
                                    f"{traceback.format_exc()}")

    def collect(self, what: str) -> None:
        with self.ctx.db.read() as s:
            intents = list(s.execute(select(OutboxEvent.id, OutboxEvent.payload).where(
                OutboxEvent.id > self.seen_outbox, OutboxEvent.topic == INTENT)
                .order_by(OutboxEvent.id)))
            newest = s.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1))
            # (Nothing in the passes changes an incident's status: this is its status when
            # the passes sent their pages.)
            statuses: dict[int, str] = {i: st_ for i, st_ in s.execute(
                select(Incident.id, Incident.status))}
        self.seen_outbox = max(self.seen_outbox, newest or 0)
        for _, p in intents:
            iid = p.get("incident_id")
            if not isinstance(iid, int):
                continue
            ep = self.current(iid)
            if ep is None:
                self.stray.append(f"step {p.get('step', 0) + 1} (repeat {p.get('repeat')}) "
                                  f"for incident {iid} ({statuses.get(iid)}) after {what!r}")
            elif p.get("step") == 0 and p.get("repeat") == 0:
                ep.step1_intents.append(str(p.get("key")))
        for rec in self.receiver.requests[self.first_request + len(self.pages):]:
            body = rec.json
            inc = body.get("incident") or {}
            iid = inc.get("id")
            key = str(body.get("key") or rec.headers.get("x-vigil-key") or "")
            page = Page(iid if isinstance(iid, int) else None, inc.get("number"),
                        str(body.get("event")), key, inc.get("status"),
                        statuses.get(iid) if isinstance(iid, int) else None, what)
            self.pages.append(page)
            parts = key.split(":")
            ep = self.current(iid) if isinstance(iid, int) else None
            if ep is not None and len(parts) > 3 and parts[2:4] == ["0", "0"]:
                ep.step1_pages.append(key)

    # -- invariants -----------------------------------------------------------------------

    def story(self) -> str:
        return "\n  ".join(["steps:", *self.steps])

    @invariant()
    def paging_holds(self) -> None:
        # Checked in this order so that the first broken one names the cause.
        self.no_consumer_is_stuck()
        self.step_one_once_per_episode()
        self.pages_are_for_live_incidents()

    def no_consumer_is_stuck(self) -> None:
        assert not self.escaped, (
            "a consumer pass failed with an unhandled exception (the worker loop would "
            "log this traceback and fail the same way on every later pass):\n"
            + "\n".join(self.escaped) + "\n" + self.story())
        assert not self.errors.lines, ("errors in the server log:\n"
                                       + "\n".join(self.errors.lines) + "\n" + self.story())
        with self.ctx.db.read() as s:
            for name, topics in CONSUMERS:
                last = s.scalar(select(OutboxCursor.last_id).where(OutboxCursor.name == name))
                failed = select(OutboxFailure.event_id).where(OutboxFailure.consumer == name)
                behind = [(e.id, e.topic, e.payload) for e in s.scalars(
                    select(OutboxEvent).where(OutboxEvent.id > (last or 0),
                                              OutboxEvent.topic.in_(topics),
                                              OutboxEvent.id.not_in(failed))
                    .order_by(OutboxEvent.id).limit(5))]
                assert not behind, (
                    f"consumer {name!r} is stuck at outbox id {last}: it has not handled "
                    f"(nor recorded as failed) {behind}\n" + self.story())

    def step_one_once_per_episode(self) -> None:
        for iid, eps in sorted(self.episodes.items()):
            for n, ep in enumerate(eps, 1):
                what = (f"incident {iid} (INC-{ep.number}), firing episode {n} ({ep.cause} at "
                        f"{ep.began!r}, ended: {ep.ended}): step-1 intents {ep.step1_intents}, "
                        f"step-1 pages {ep.step1_pages}\n" + self.story())
                fired, paged = "step 1 did not fire exactly once: ", "not paged exactly once: "
                # One assertion per cause, so that hypothesis reports each as its own bug.
                if ep.cause == "created":
                    assert len(ep.step1_intents) == 1, "new: " + fired + what
                    assert len(ep.step1_pages) == 1, "new: " + paged + what
                elif ep.cause == "reopened by an alert":
                    assert len(ep.step1_intents) == 1, "alert reopened: " + fired + what
                    assert len(ep.step1_pages) == 1, "alert reopened: " + paged + what
                elif ep.cause == "reopened by a person":
                    assert len(ep.step1_intents) == 1, "person reopened: " + fired + what
                    assert len(ep.step1_pages) == 1, "person reopened: " + paged + what
                else:
                    assert len(ep.step1_intents) == 1, "merge reopened: " + fired + what
                    assert len(ep.step1_pages) == 1, "merge reopened: " + paged + what
        assert not self.stray, ("a step fired for an incident outside any firing episode: "
                                f"{self.stray}\n" + self.story())
        assert not self.stale_counted, ("a stale re-send counted as firing: "
                                        f"{self.stale_counted}\n" + self.story())

    def pages_are_for_live_incidents(self) -> None:
        for page in self.pages[self.pages_checked:]:
            assert page.incident_id is not None, f"a page names no incident: {page}"
            resp = self.api("GET", f"/api/v1/incidents/{page.incident_id}")
            assert resp.status_code == 200, f"a page names no existing incident: {page}"
            assert resp.json()["number"] == page.number, (page, resp.json()["number"])
            assert page.status_at_send not in OVER and page.status_in_body not in OVER, (
                f"paged for an incident that was over: {page}\n" + self.story())
        self.pages_checked = len(self.pages)


#: Bounded so that each database takes well under a minute while the journey holds; run
#: deeper with VIGIL_TEST_PAGING_EXAMPLES=500.
STEPS = 15
EXAMPLES = int(os.environ.get("VIGIL_TEST_PAGING_EXAMPLES", "30"))


@pytest.fixture
def world(db_url: str, tmp_path: Path, sqlite_template: Path) -> Iterator[World]:
    with RecordingServer() as receiver:
        yield make_world(db_url, tmp_path, sqlite_template, receiver)


def on(world_: World) -> type[PagingJourney]:
    class Journey(PagingJourney):
        world = world_
    return Journey


def test_paging_journey(world: World) -> None:
    run_state_machine_as_test(
        on(world),
        settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.filter_too_much]))


def test_the_journey_runs_its_passes(world: World) -> None:
    """The machine itself: one alert pages once, through the real receiver; step 2 five
    minutes later."""
    machine = on(world)()
    try:
        machine.fire_alert(("GroupAll", "a"))
        machine.paging_holds()
        (page,) = machine.pages
        assert page.event == "triggered" and page.status_at_send == "firing"
        assert page.number == 1 and page.key.startswith("1:0:0:0:user:alice:alice:")
        machine.advance(5)
        machine.paging_holds()
        assert [p.key.split(":")[2] for p in machine.pages] == ["0", "1"]
    finally:
        machine.teardown()
