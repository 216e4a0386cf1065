"""The correlation core, table-driven: dedup outcomes in, incident decisions out, no database.

Inputs are built as the pipeline builds them: a batch of events goes through ``decide()`` and
its ``outcomes`` go to ``group_alerts()``. Incidents (and alerts) that already exist are given
ids, as the writer would have.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from vigil.alerts.dedup import AlertState, Decision, Outcome, decide
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.core.submission import Submission
from vigil.incidents.grouping import (
    REOPEN_WINDOW,
    WINDOW,
    IncidentDecision,
    IncidentState,
    group_alerts,
    group_key,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
KEY = "default:7:api:HighLatency"


def ev(action: str = "trigger", *, name: str = "HighLatency", service: str | None = "api",
       instance: str = "a", severity: Severity = Severity.WARNING, summary: str = "slow",
       description: str | None = None, source: str = "alertmanager",
       starts_at: datetime | None = None) -> AlertEvent:
    labels = {"alertname": name, "service": service or "", "instance": instance}
    return AlertEvent(action=Action(action), source=source, name=name, summary=summary,
                      severity=severity, description=description, service=service,
                      labels=labels, starts_at=starts_at)


def sub(event: AlertEvent, *, tenant: int = 1, integration: int = 7) -> Submission:
    return Submission(tenant, integration, fingerprint(event, integration_id=integration),
                      event)


def run(batch: list[Submission], *, known: Iterable[IncidentState] = (),
        open_alerts: Iterable[AlertState] = (), now: datetime = NOW,
        ) -> tuple[Decision, IncidentDecision]:
    d = decide(open_alerts, batch, now)
    return d, group_alerts(known, d.outcomes, now, window=WINDOW, reopen_window=REOPEN_WINDOW)


def persist(d: Decision, inc: IncidentDecision, *, first_alert_id: int = 1,
            first_incident_id: int = 100) -> None:
    """Assign ids as the writer does, and link the new alerts to their incidents."""
    for n, alert in enumerate(d.new, first_alert_id):
        alert.id = n
    for n, incident in enumerate(inc.new, first_incident_id):
        incident.id = n
    for alert, incident in inc.links:
        alert.incident_id = incident.id


def incident(status: str = "firing", *, id: int = 100, tenant: int = 1, key: str = KEY,
             severity: Severity = Severity.WARNING, alert_count: int = 1,
             open_alert_count: int = 1, resolve_on: str = "all",
             created_at: datetime = T0, last_seen_at: datetime | None = None,
             resolved_at: datetime | None = None) -> IncidentState:
    return IncidentState(
        id=id, tenant_id=tenant, number=1, title="slow", summary="slow", status=status,
        severity=int(severity), priority=None, category=None, type="rule", assignee=None,
        team=None, services=["api"], sources=["alertmanager"], alert_count=alert_count,
        open_alert_count=open_alert_count, group_key=key, resolve_on=resolve_on,
        created_at=created_at, started_at=created_at,
        last_seen_at=last_seen_at or NOW - timedelta(minutes=1), resolved_at=resolved_at,
    )


def seeded(n_alerts: int, *, resolve_on: str = "all", status: str = "firing",
           at: datetime = NOW - timedelta(minutes=2),
           ) -> tuple[list[AlertState], IncidentState]:
    """An existing incident with ``n_alerts`` open alerts (instances a, b, ...)."""
    batch = [sub(ev(instance=chr(ord("a") + i))) for i in range(n_alerts)]
    d, inc = run(batch, now=at)
    persist(d, inc)
    (only,) = inc.new
    only.resolve_on = resolve_on
    only.status = status
    return d.new, only


def kinds(inc: IncidentDecision) -> list[str]:
    return [t.kind for t in inc.timeline]


def topics(inc: IncidentDecision) -> list[str]:
    return [o.topic for o in inc.outbox]


# --- opening and joining ---------------------------------------------------------------


def test_new_alert_opens_a_firing_incident() -> None:
    d, inc = run([sub(ev(severity=Severity.HIGH, summary="p99 over 2s", description="detail",
                         starts_at=T0))])
    (alert,) = d.new
    (new,) = inc.new
    assert new.id is None and new.tenant_id == 1
    assert new.status == "firing"
    assert new.severity == int(Severity.HIGH)
    assert (new.services, new.sources) == (["api"], ["alertmanager"])
    assert (new.alert_count, new.open_alert_count) == (1, 1)
    assert (new.title, new.summary) == ("p99 over 2s", "detail")
    assert new.group_key == group_key(alert) == KEY
    assert new.resolve_on == "all"
    assert (new.created_at, new.started_at, new.last_seen_at) == (NOW, T0, NOW)
    assert new.resolved_at is None
    assert inc.changed == {}  # not persisted yet: only in ``new``
    assert inc.links == [(alert, new)]
    assert kinds(inc) == ["created"]
    entry = inc.timeline[0]
    assert (entry.incident, entry.at, entry.actor, entry.before) == (new, NOW, "rule:default", {})
    assert entry.after == {"status": "firing", "severity": "high", "alert_count": 1,
                           "open_alert_count": 1}
    assert topics(inc) == ["incident.created"]
    assert inc.outbox[0].incident is new
    assert inc.outbox[0].payload == {"status": "firing", "severity": "high",
                                     "title": "p99 over 2s", "services": ["api"],
                                     "alert_count": 1, "team": None, "assignee": None,
                                     "escalation_policy": None, "category": None,
                                     "previous": {}, "actor": "system", "kind": "created"}


def test_title_falls_back_to_the_alert_name_and_services_may_be_empty() -> None:
    _, inc = run([sub(ev(summary="", service=None))])
    (new,) = inc.new
    assert new.title == "HighLatency"
    assert new.services == []
    assert new.group_key == "default:7::HighLatency"


def test_second_alert_of_the_group_in_one_batch_joins_the_incident() -> None:
    d, inc = run([sub(ev(instance="a", severity=Severity.WARNING)),
                  sub(ev(instance="b", severity=Severity.CRITICAL))])
    assert len(d.new) == 2  # two alerts (different labels) ...
    (new,) = inc.new  # ... one incident
    assert (new.alert_count, new.open_alert_count) == (2, 2)
    assert new.severity == int(Severity.CRITICAL)
    assert [(a, i) for a, i in inc.links] == [(d.new[0], new), (d.new[1], new)]
    assert kinds(inc) == ["created", "alert_added"]
    assert inc.timeline[1].before["alert_count"] == 1
    assert inc.timeline[1].after["alert_count"] == 2
    assert topics(inc) == ["incident.created", "incident.updated"]


@pytest.mark.parametrize("status", ["firing", "acknowledged", "investigating"])
def test_new_alert_joins_an_existing_open_incident_within_the_window(status: str) -> None:
    existing = incident(status, severity=Severity.CRITICAL, alert_count=3, open_alert_count=2,
                        last_seen_at=NOW - WINDOW + timedelta(minutes=1))
    d, inc = run([sub(ev(instance="z", severity=Severity.HIGH))], known=[existing])
    assert inc.new == []
    assert inc.changed == {100: existing}
    assert inc.links == [(d.new[0], existing)]
    assert existing.status == status  # joining does not change the status
    assert (existing.alert_count, existing.open_alert_count) == (4, 3)
    assert existing.severity == int(Severity.CRITICAL)  # max, never lowered
    assert existing.last_seen_at == NOW
    assert kinds(inc) == ["alert_added"]
    assert topics(inc) == []  # one more alert, nothing subscribers see changed


def test_joining_alert_that_raises_severity_or_adds_a_service_updates_subscribers() -> None:
    existing = incident("firing", severity=Severity.WARNING, alert_count=1, open_alert_count=1)
    _, inc = run([sub(ev(instance="z", severity=Severity.CRITICAL)),
                  sub(ev(instance="y", severity=Severity.CRITICAL))], known=[existing])
    assert topics(inc) == ["incident.updated"]  # once per batch
    assert inc.outbox[0].payload["severity"] == "critical"


@pytest.mark.parametrize(("first", "second"), [
    pytest.param(sub(ev(service="api")), sub(ev(service="web")), id="service"),
    pytest.param(sub(ev(name="HighLatency")), sub(ev(name="HighErrors")), id="name"),
    pytest.param(sub(ev(), integration=7), sub(ev(), integration=8), id="integration"),
    pytest.param(sub(ev(), tenant=1), sub(ev(), tenant=2), id="tenant"),
])
def test_a_different_group_opens_a_separate_incident(first: Submission,
                                                     second: Submission) -> None:
    d, inc = run([first, second])
    assert len(inc.new) == 2
    assert [i for _, i in inc.links] == inc.new
    assert inc.new[0].group_key == group_key(d.new[0])
    assert inc.new[1].group_key == group_key(d.new[1])
    assert [i.tenant_id for i in inc.new] == [first.tenant_id, second.tenant_id]
    assert kinds(inc) == ["created", "created"]
    assert topics(inc) == ["incident.created", "incident.created"]


def test_existing_incident_of_another_tenant_is_not_joined() -> None:
    other = incident(tenant=2)
    _, inc = run([sub(ev(), tenant=1)], known=[other])
    assert len(inc.new) == 1 and inc.new[0].tenant_id == 1
    assert inc.changed == {}
    assert other.alert_count == 1


def test_open_incident_last_seen_outside_the_window_is_not_joined() -> None:
    stale = incident(last_seen_at=NOW - WINDOW - timedelta(seconds=1))
    d, inc = run([sub(ev(instance="z"))], known=[stale])
    (new,) = inc.new
    assert inc.links == [(d.new[0], new)]
    assert new.group_key == stale.group_key
    assert inc.changed == {}
    assert (stale.status, stale.alert_count, stale.last_seen_at) == (
        "firing", 1, NOW - WINDOW - timedelta(seconds=1))
    assert topics(inc) == ["incident.created"]


# --- reopening ---------------------------------------------------------------------------


def test_recently_resolved_incident_is_reopened_by_a_new_alert() -> None:
    resolved_at = NOW - REOPEN_WINDOW + timedelta(minutes=1)
    old = incident("resolved", open_alert_count=0, resolved_at=resolved_at,
                   last_seen_at=resolved_at)
    d, inc = run([sub(ev(instance="z"))], known=[old])
    assert inc.new == []
    assert inc.changed == {100: old}
    assert inc.links == [(d.new[0], old)]
    assert (old.status, old.resolved_at) == ("firing", None)
    assert (old.alert_count, old.open_alert_count) == (2, 1)
    assert old.last_seen_at == NOW
    assert kinds(inc) == ["reopened", "alert_added"]
    reopened = inc.timeline[0]
    assert (reopened.before["status"], reopened.after["status"]) == ("resolved", "firing")
    assert topics(inc) == ["incident.status_changed"]
    assert inc.outbox[0].payload["previous"]["status"] == "resolved"
    assert inc.outbox[0].payload["status"] == "firing"


def test_incident_resolved_before_the_reopen_window_is_not_reopened() -> None:
    resolved_at = NOW - REOPEN_WINDOW - timedelta(seconds=1)
    old = incident("resolved", open_alert_count=0, resolved_at=resolved_at,
                   last_seen_at=resolved_at)
    d, inc = run([sub(ev(instance="z"))], known=[old])
    (new,) = inc.new
    assert inc.links == [(d.new[0], new)]
    assert (old.status, old.resolved_at, old.alert_count) == ("resolved", resolved_at, 1)
    assert inc.changed == {}
    assert kinds(inc) == ["created"]


@pytest.mark.parametrize("status", ["closed", "merged"])
def test_closed_or_merged_incident_of_the_group_is_never_joined(status: str) -> None:
    done = incident(status, open_alert_count=0, resolved_at=NOW - timedelta(minutes=1),
                    last_seen_at=NOW - timedelta(minutes=1))
    _, inc = run([sub(ev(instance="z"))], known=[done])
    assert len(inc.new) == 1
    assert (done.status, done.alert_count) == (status, 1)
    assert inc.changed == {}


def test_incident_of_an_existing_alert_does_not_hide_the_groups_open_incident() -> None:
    # Group G: A opened at 11:00 and went stale, so B was opened at 11:30 for G; B was
    # resolved on its first alert (resolve_on "first") and closed by a human, while its
    # alert "b" stays open. A is active again and fresh.
    a = incident(id=1, created_at=T0, last_seen_at=NOW - timedelta(minutes=1))
    b = incident("closed", id=2, created_at=T0 + timedelta(minutes=30), resolve_on="first",
                 resolved_at=NOW - timedelta(hours=1), last_seen_at=NOW - timedelta(hours=1))
    d0, _ = run([sub(ev(instance="b"))], now=T0 + timedelta(minutes=30))
    (alert_b,) = d0.new
    alert_b.id, alert_b.incident_id = 11, 2
    # The batch: a new alert of G, and a repeat of "b" (so the store loads B by id too).
    d, inc = run([sub(ev(instance="z")), sub(ev(instance="b"))], known=[a, b],
                 open_alerts=[alert_b])
    assert [o for _, o in d.outcomes] == [Outcome.CREATED, Outcome.DEDUPLICATED]
    assert inc.new == []  # the new alert joins A, as it does without "b" in the batch
    assert inc.links == [(d.new[0], a)]


# --- auto-resolve ------------------------------------------------------------------------


def test_resolve_on_all_resolves_when_the_last_open_alert_resolves() -> None:
    alerts, existing = seeded(2, resolve_on="all")
    d, inc = run([sub(ev("resolve", instance="a"))], known=[existing], open_alerts=alerts)
    assert d.outcomes[0][1] is Outcome.RESOLVED
    assert inc.changed == {100: existing}
    assert (existing.status, existing.open_alert_count) == ("firing", 1)
    assert inc.timeline == [] and inc.outbox == []

    later = NOW + timedelta(minutes=1)
    _, inc = run([sub(ev("resolve", instance="b"))], known=[existing],
                 open_alerts=[alerts[1]], now=later)
    assert (existing.status, existing.open_alert_count) == ("resolved", 0)
    assert existing.resolved_at == later
    assert existing.alert_count == 2
    assert kinds(inc) == ["resolved"]
    entry = inc.timeline[0]
    assert (entry.before["status"], entry.before["open_alert_count"]) == ("firing", 1)
    assert (entry.after["status"], entry.after["open_alert_count"]) == ("resolved", 0)
    assert topics(inc) == ["incident.status_changed"]
    assert inc.outbox[0].payload["previous"]["status"] == "firing"
    assert inc.outbox[0].payload["status"] == "resolved"


@pytest.mark.parametrize(("resolve_on", "opener", "latest"), [
    ("first", "a", "b"),  # the alert that opened the incident
    ("last", "b", "a"),  # the latest alert to join it
])
def test_resolve_on_first_or_last_resolves_when_that_alert_resolves(
        resolve_on: str, opener: str, latest: str) -> None:
    alerts, existing = seeded(2, resolve_on=resolve_on)
    # The other alert resolving first changes nothing ...
    _, inc = run([sub(ev("resolve", instance=latest))], known=[existing], open_alerts=alerts)
    assert (existing.status, existing.open_alert_count) == ("firing", 1)
    assert inc.timeline == [] and inc.outbox == []
    # ... the named one resolves the incident, with an alert still open.
    _, inc = run([sub(ev("resolve", instance=opener)), sub(ev("trigger", instance=latest))],
                 known=[existing], open_alerts=alerts)
    assert existing.status == "resolved" and existing.resolved_at == NOW
    assert kinds(inc) == ["resolved"]
    assert topics(inc) == ["incident.status_changed"]


def test_resolve_on_never_does_not_resolve_by_itself() -> None:
    alerts, existing = seeded(2, resolve_on="never")
    _, inc = run([sub(ev("resolve", instance="a")), sub(ev("resolve", instance="b"))],
                 known=[existing], open_alerts=alerts)
    assert (existing.status, existing.open_alert_count) == ("firing", 0)
    assert existing.resolved_at is None
    assert inc.changed == {100: existing}
    assert inc.timeline == [] and inc.outbox == []


@pytest.mark.parametrize("status", ["acknowledged", "investigating"])
def test_acknowledged_or_investigating_incident_auto_resolves_under_all(status: str) -> None:
    alerts, existing = seeded(2, status=status)
    _, inc = run([sub(ev("resolve", instance="a")), sub(ev("resolve", instance="b"))],
                 known=[existing], open_alerts=alerts)
    assert (existing.status, existing.open_alert_count) == ("resolved", 0)
    assert kinds(inc) == ["resolved"]
    assert inc.outbox[0].payload["previous"]["status"] == status


@pytest.mark.parametrize("status", ["closed", "merged"])
@pytest.mark.parametrize("resolve_on", ["all", "first"])
def test_closed_or_merged_incident_is_not_changed_by_alert_resolution(
        status: str, resolve_on: str) -> None:
    alerts, existing = seeded(1, resolve_on=resolve_on, status=status)
    existing.resolved_at = resolved_at = NOW - timedelta(minutes=1)
    _, inc = run([sub(ev("resolve", instance="a"))], known=[existing], open_alerts=alerts)
    assert (existing.status, existing.resolved_at) == (status, resolved_at)
    assert inc.timeline == [] and inc.outbox == []


def test_already_resolved_incident_is_not_resolved_again() -> None:
    alerts, existing = seeded(2, resolve_on="first")
    _, inc = run([sub(ev("resolve", instance="a")), sub(ev("resolve", instance="b"))],
                 known=[existing], open_alerts=alerts)
    assert (existing.status, existing.open_alert_count) == ("resolved", 0)
    assert kinds(inc) == ["resolved"]
    assert topics(inc) == ["incident.status_changed"]


# --- repeats, acknowledgements, unknown incidents -----------------------------------------


@pytest.mark.parametrize(("severity", "expected"), [
    (Severity.CRITICAL, Severity.CRITICAL),  # rises
    (Severity.LOW, Severity.WARNING),  # never lowered
])
def test_deduplicated_repeat_updates_last_seen_and_raises_severity_silently(
        severity: Severity, expected: Severity) -> None:
    alerts, existing = seeded(1)
    d, inc = run([sub(ev(instance="a", severity=severity))], known=[existing],
                 open_alerts=alerts)
    assert d.outcomes[0][1] is Outcome.DEDUPLICATED
    assert inc.new == [] and inc.links == []
    assert inc.changed == {100: existing}
    assert existing.last_seen_at == NOW
    assert existing.severity == int(expected)
    assert (existing.alert_count, existing.open_alert_count) == (1, 1)
    assert inc.timeline == [] and inc.outbox == []


def test_redelivery_updates_last_seen_only() -> None:
    alerts, existing = seeded(1)
    alerts[0].starts_at = T0
    d, inc = run([sub(ev(instance="a", starts_at=T0))], known=[existing], open_alerts=alerts)
    assert d.outcomes[0][1] is Outcome.REDELIVERED
    assert inc.changed == {100: existing}
    assert existing.last_seen_at == NOW
    assert existing.alert_count == 1
    assert inc.timeline == [] and inc.outbox == []


def test_acknowledge_and_ignored_outcomes_do_not_touch_incidents() -> None:
    alerts, existing = seeded(1)
    seen = existing.last_seen_at
    d, inc = run([sub(ev("acknowledge", instance="a")), sub(ev("acknowledge", instance="a")),
                  sub(ev("resolve", instance="nope"))], known=[existing], open_alerts=alerts)
    assert [o for _, o in d.outcomes] == [
        Outcome.ACKNOWLEDGED, Outcome.UNCHANGED, Outcome.IGNORED]
    assert inc == IncidentDecision()
    assert (existing.status, existing.last_seen_at) == ("firing", seen)


def test_alert_of_an_incident_not_loaded_is_skipped() -> None:
    alerts, _ = seeded(1)
    d, inc = run([sub(ev(instance="a")), sub(ev("resolve", instance="a"))],
                 open_alerts=alerts)
    assert [o for _, o in d.outcomes] == [Outcome.DEDUPLICATED, Outcome.RESOLVED]
    assert inc == IncidentDecision()


# --- whole batches -------------------------------------------------------------------------


def test_alert_created_and_resolved_in_one_batch_opens_and_resolves_the_incident() -> None:
    d, inc = run([sub(ev()), sub(ev(severity=Severity.HIGH)), sub(ev("resolve"))])
    assert [o for _, o in d.outcomes] == [
        Outcome.CREATED, Outcome.DEDUPLICATED, Outcome.RESOLVED]
    (new,) = inc.new
    assert inc.changed == {}
    assert (new.status, new.resolved_at) == ("resolved", NOW)
    assert (new.alert_count, new.open_alert_count) == (1, 0)
    assert new.severity == int(Severity.HIGH)  # the repeat in the batch raised it
    assert kinds(inc) == ["created", "resolved"]
    assert topics(inc) == ["incident.created", "incident.status_changed"]


def test_trigger_resolve_trigger_in_one_batch_reopens_the_new_incident() -> None:
    d, inc = run([sub(ev()), sub(ev("resolve")), sub(ev())])
    assert len(d.new) == 2  # dedup opens a second alert after the resolve ...
    (new,) = inc.new  # ... which reopens the incident it just resolved
    assert inc.links == [(d.new[0], new), (d.new[1], new)]
    assert (new.status, new.resolved_at) == ("firing", None)
    assert (new.alert_count, new.open_alert_count) == (2, 1)
    assert kinds(inc) == ["created", "resolved", "reopened", "alert_added"]
    assert topics(inc) == ["incident.created", "incident.status_changed",
                           "incident.status_changed"]


def test_batch_touching_many_groups_opens_one_incident_per_group_in_order() -> None:
    names = ["CPU", "Disk", "Memory", "Latency"]
    batch = [sub(ev(name=n, instance=i)) for i in "ab" for n in names]
    d, inc = run(batch)
    assert len(d.new) == 8
    assert [i.group_key for i in inc.new] == [f"default:7:api:{n}" for n in names]
    assert [i.alert_count for i in inc.new] == [2, 2, 2, 2]
    assert [(a.name, i.group_key) for a, i in inc.links] == [
        (a.name, group_key(a)) for a in d.new]
    assert topics(inc) == ["incident.created"] * 4
    assert [t.incident for t in inc.timeline] == inc.new + inc.new


def test_mixed_batch_against_existing_incidents() -> None:
    alerts, existing = seeded(1)
    batch = [sub(ev(name="Disk")), sub(ev(instance="b")), sub(ev("resolve", instance="a")),
             sub(ev("resolve", instance="b"))]
    _, inc = run(batch, known=[existing], open_alerts=alerts)
    (disk,) = inc.new
    assert disk.group_key == "default:7:api:Disk"
    assert inc.changed == {100: existing}
    assert (existing.status, existing.alert_count, existing.open_alert_count) == (
        "resolved", 2, 0)
    assert [(t.incident, t.kind) for t in inc.timeline] == [
        (disk, "created"), (existing, "alert_added"), (existing, "resolved")]


# --- an open alert whose incident is done with ---------------------------------------------


def left_open(status: str = "resolved", *, resolved_ago: timedelta = timedelta(minutes=5),
              resolve_on: str = "all") -> tuple[list[AlertState], IncidentState]:
    """An incident a person resolved (or then closed) ``resolved_ago``, leaving its two
    alerts (instances a, b) open."""
    alerts, existing = seeded(2, resolve_on=resolve_on, status=status)
    existing.resolved_at = existing.last_seen_at = NOW - resolved_ago
    return alerts, existing


@pytest.mark.parametrize("starts_at", [None, T0])  # a repeat, or a re-send (redelivery)
def test_an_alert_firing_again_in_a_recently_resolved_incident_reopens_it(
        starts_at: datetime | None) -> None:
    alerts, existing = left_open()
    alerts[0].starts_at = T0
    d, inc = run([sub(ev(instance="a", starts_at=starts_at))], known=[existing],
                 open_alerts=alerts)
    assert d.outcomes[0][1] in (Outcome.DEDUPLICATED, Outcome.REDELIVERED)
    assert (existing.status, existing.resolved_at, existing.last_seen_at) == (
        "firing", None, NOW)
    assert (existing.alert_count, existing.open_alert_count) == (2, 2)  # it was counted
    assert inc.new == [] and inc.links == [] and inc.moved == []
    assert inc.changed == {100: existing}
    assert kinds(inc) == ["reopened"]
    assert topics(inc) == ["incident.status_changed"]


@pytest.mark.parametrize(("status", "resolved_ago"), [
    ("resolved", REOPEN_WINDOW + timedelta(minutes=1)), ("closed", timedelta(minutes=5))])
def test_an_alert_firing_again_in_an_incident_done_with_opens_a_new_one(
        status: str, resolved_ago: timedelta) -> None:
    alerts, existing = left_open(status, resolved_ago=resolved_ago)
    resolved_at = existing.resolved_at
    d, inc = run([sub(ev(instance="a"))], known=[existing], open_alerts=alerts)
    (new,) = inc.new
    assert inc.links == [(alerts[0], new)] and inc.moved == [alerts[0]]
    assert (new.status, new.alert_count, new.open_alert_count) == ("firing", 1, 1)
    assert new.group_key == existing.group_key
    # ... and it left the old one, which stays as it was otherwise
    assert (existing.status, existing.resolved_at) == (status, resolved_at)
    assert (existing.alert_count, existing.open_alert_count) == (1, 1)
    assert inc.changed == {100: existing}
    assert [(t.incident, t.kind) for t in inc.timeline] == [
        (existing, "alert_moved"), (new, "created")]
    assert topics(inc) == ["incident.created"]
    persist(d, inc, first_incident_id=101)
    assert alerts[0].incident_id == 101


def test_an_alert_firing_again_joins_its_groups_open_incident_if_there_is_one() -> None:
    alerts, existing = left_open(resolved_ago=REOPEN_WINDOW + timedelta(minutes=1))
    fresh = incident(id=200, created_at=NOW - timedelta(minutes=10))
    _, inc = run([sub(ev(instance="b"))], known=[existing, fresh], open_alerts=alerts)
    assert inc.new == [] and inc.links == [(alerts[1], fresh)] and inc.moved == [alerts[1]]
    assert (fresh.alert_count, fresh.open_alert_count) == (2, 2)
    assert (existing.alert_count, existing.open_alert_count) == (1, 1)
    assert kinds(inc) == ["alert_moved", "alert_added"]


@pytest.mark.parametrize("resolve_on", ["first", "last"])
def test_alerts_left_firing_on_purpose_by_resolve_on_first_or_last_stay(
        resolve_on: str) -> None:
    """Those rules resolve their incident while other alerts fire: a re-send of those is
    not the incident firing again."""
    alerts, existing = left_open(resolve_on=resolve_on)
    _, inc = run([sub(ev(instance="b"))], known=[existing], open_alerts=alerts)
    assert existing.status == "resolved"
    assert inc.new == [] and inc.links == [] and inc.moved == [] and inc.timeline == []


def test_a_stale_resend_of_a_resolved_alert_changes_no_incident() -> None:
    alerts, existing = seeded(1)
    old = alerts[0]
    old.starts_at, old.status, old.resolved_by, old.resolved_at = T0, "resolved", \
        "alertmanager", NOW - timedelta(minutes=1)
    existing.status, existing.open_alert_count = "resolved", 0
    existing.resolved_at = NOW - timedelta(minutes=1)
    d = decide([], [sub(ev(instance="a", starts_at=T0))], NOW,
               resolved={(1, old.fingerprint): old})
    assert d.outcomes == [(old, Outcome.IGNORED)]
    inc = group_alerts([existing], d.outcomes, NOW)
    assert inc == IncidentDecision()
    assert existing.status == "resolved"
