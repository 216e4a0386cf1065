"""The correlation core on repeats, acknowledgements and whole batches, table-driven: dedup
outcomes in, incident decisions out, no database.

Deduplicated repeats and redeliveries only touch ``last_seen_at`` (and raise severity);
acknowledgements, ignored events and alerts of incidents not loaded touch no incident; one
batch may open and resolve, reopen, or touch many groups and existing incidents at once.
Built with the helpers in ``grouping_cases``.
"""

from __future__ import annotations

import pytest
from grouping_cases import (
    NOW,
    T0,
    ev,
    kinds,
    run,
    seeded,
    sub,
    topics,
)

from vigil.alerts.dedup import Outcome
from vigil.core.severity import Severity
from vigil.incidents.grouping import (
    IncidentDecision,
    group_key,
)

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
