"""The correlation core opening, joining and reopening incidents, table-driven: dedup
outcomes in, incident decisions out, no database.

A new alert opens a firing incident or joins its group's open incident within the window;
another group, tenant or a stale incident opens a separate one; a recently resolved incident
is reopened, one closed, merged or resolved before the reopen window is not. Built with the
helpers in ``grouping_cases``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from grouping_cases import (
    KEY,
    NOW,
    T0,
    ev,
    incident,
    kinds,
    run,
    sub,
    topics,
)

from vigil.alerts.dedup import Outcome
from vigil.core.severity import Severity
from vigil.core.submission import Submission
from vigil.incidents.grouping import (
    REOPEN_WINDOW,
    WINDOW,
    group_key,
)

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
