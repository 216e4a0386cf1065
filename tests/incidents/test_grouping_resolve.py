"""The correlation core resolving incidents, table-driven: dedup outcomes in, incident
decisions out, no database.

Auto-resolve by ``resolve_on`` (all, first, last, never) and which incidents alert
resolution leaves alone; then an open alert whose incident is done with (resolved by a
person, or closed) firing again: it reopens a recently resolved incident, moves to a new or
to its group's open incident, or stays; a stale re-send changes nothing. Built with the
helpers in ``grouping_cases``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from grouping_cases import (
    NOW,
    T0,
    ev,
    incident,
    kinds,
    persist,
    run,
    seeded,
    sub,
    topics,
)

from vigil.alerts.dedup import AlertState, Outcome, decide
from vigil.incidents.grouping import (
    REOPEN_WINDOW,
    IncidentDecision,
    IncidentState,
    group_alerts,
)

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
