"""The dedup core, table-driven: events in, decisions out, no database."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from vigil.alerts.dedup import AlertState, Outcome, decide
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import FingerprintError, fingerprint
from vigil.core.severity import Severity
from vigil.core.submission import Submission

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


def ev(action: str = "trigger", *, fp_labels: dict[str, str] | None = None,
       starts_at: datetime | None = None, severity: Severity = Severity.WARNING,
       actor: str | None = None) -> AlertEvent:
    return AlertEvent(action=Action(action), source="alertmanager", name="HighLatency",
                      summary="slow", severity=severity,
                      labels=fp_labels or {"alertname": "HighLatency", "service": "api"},
                      starts_at=starts_at, actor=actor)


def sub(event: AlertEvent, tenant: int = 1) -> Submission:
    return Submission(tenant, 7, fingerprint(event, integration_id=7), event)


def test_first_trigger_opens_a_firing_alert() -> None:
    d = decide([], [sub(ev(starts_at=T0))], NOW)
    assert len(d.new) == 1
    alert = d.new[0]
    assert (alert.status, alert.occurrences, alert.starts_at) == ("firing", 1, T0)
    assert alert.first_received_at == alert.last_received_at == NOW
    assert d.outcomes[0][1] is Outcome.CREATED
    assert [o.topic for o in d.outbox] == ["alert.created"]


def test_repeat_trigger_joins_the_open_alert_as_an_occurrence() -> None:
    first = decide([], [sub(ev())], NOW).new[0]
    first.id = 1
    later = NOW + timedelta(minutes=1)
    d = decide([first], [sub(ev(severity=Severity.CRITICAL))], later)
    assert d.new == []
    assert d.changed[1] is first
    assert first.occurrences == 2
    assert first.last_received_at == later
    assert first.severity == int(Severity.CRITICAL)  # the latest view wins
    assert d.outcomes[0][1] is Outcome.DEDUPLICATED
    assert [o.topic for o in d.outbox] == ["alert.repeated"]


def test_resent_notification_with_same_start_is_a_redelivery_not_an_occurrence() -> None:
    first = decide([], [sub(ev(starts_at=T0))], NOW).new[0]
    first.id = 1
    d = decide([first], [sub(ev(starts_at=T0)), sub(ev(starts_at=T0))], NOW)
    assert first.occurrences == 1
    assert [o for _, o in d.outcomes] == [Outcome.REDELIVERED, Outcome.REDELIVERED]
    assert d.outbox == []


def test_trigger_after_resolve_opens_a_new_alert_even_in_one_batch() -> None:
    d = decide([], [sub(ev()), sub(ev("resolve")), sub(ev())], NOW)
    assert len(d.new) == 2
    assert [a.status for a in d.new] == ["resolved", "firing"]
    assert [o for _, o in d.outcomes] == [Outcome.CREATED, Outcome.RESOLVED, Outcome.CREATED]
    assert [o.topic for o in d.outbox] == ["alert.created", "alert.resolved", "alert.created"]


def test_acknowledge_then_acknowledge_again_is_unchanged() -> None:
    d = decide([], [sub(ev()), sub(ev("acknowledge", actor="alice")),
                    sub(ev("acknowledge", actor="bob"))], NOW)
    alert = d.new[0]
    assert alert.status == "acknowledged"
    assert alert.acknowledged_by == "alice"
    assert [o for _, o in d.outcomes][1:] == [Outcome.ACKNOWLEDGED, Outcome.UNCHANGED]


def test_trigger_on_acknowledged_alert_keeps_it_acknowledged() -> None:
    d = decide([], [sub(ev()), sub(ev("acknowledge")), sub(ev())], NOW)
    assert d.new[0].status == "acknowledged"
    assert d.new[0].occurrences == 2


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_action_for_no_open_alert_is_ignored_but_recorded(action: str) -> None:
    d = decide([], [sub(ev(action))], NOW)
    assert d.new == [] and d.changed == {} and d.outbox == []
    assert d.outcomes == [(None, Outcome.IGNORED)]
    assert len(d.history) == 1 and d.history[0].alert is None


def test_resolve_uses_the_source_end_time_when_given() -> None:
    end = NOW - timedelta(seconds=30)
    resolve = ev("resolve")
    resolve.ends_at = end
    d = decide([], [sub(ev()), sub(resolve)], NOW)
    assert d.new[0].ends_at == end
    assert d.new[0].resolved_at == NOW


def test_dedup_is_per_tenant() -> None:
    d = decide([], [sub(ev(), tenant=1), sub(ev(), tenant=2)], NOW)
    assert len(d.new) == 2


def test_every_event_is_kept_in_history() -> None:
    batch = [sub(ev()), sub(ev()), sub(ev("acknowledge")), sub(ev("resolve"))]
    d = decide([], batch, NOW)
    assert [h.outcome for h in d.history] == [
        Outcome.CREATED, Outcome.DEDUPLICATED, Outcome.ACKNOWLEDGED, Outcome.RESOLVED]


def test_existing_open_alert_from_the_database_is_joined() -> None:
    existing = AlertState(
        id=42, tenant_id=1, integration_id=7, fingerprint=sub(ev()).fingerprint,
        fingerprint_version=1, dedup_key=None, source="alertmanager", status="firing",
        severity=3, name="HighLatency", summary="slow", description=None, service="api",
        environment=None, labels={}, annotations={}, links=[], raw={}, starts_at=T0,
        ends_at=None, first_received_at=T0, last_received_at=T0, occurrences=5,
    )
    d = decide([existing], [sub(ev("resolve"))], NOW)
    assert d.changed == {42: existing}
    assert existing.status == "resolved"


def test_fingerprint_never_from_name_alone() -> None:
    bare = AlertEvent(action=Action.TRIGGER, source="x", name="only a name")
    with pytest.raises(FingerprintError):
        fingerprint(bare, integration_id=1)


def test_fingerprint_ignores_label_order_and_depends_on_integration() -> None:
    a = ev(fp_labels={"a": "1", "b": "2"})
    b = ev(fp_labels={"b": "2", "a": "1"})
    assert fingerprint(a, integration_id=1) == fingerprint(b, integration_id=1)
    assert fingerprint(a, integration_id=1) != fingerprint(a, integration_id=2)
    c = ev(fp_labels={"a": "1", "b": "3"})
    assert fingerprint(a, integration_id=1) != fingerprint(c, integration_id=1)


def test_fingerprint_v1_is_stable() -> None:
    """Version 1 is stored in every open alert: its material must never change."""
    e = AlertEvent(action=Action.TRIGGER, source="x", name="n", labels={
        "severity": "critical", "alertname": "DiskFull", "instance": "db-1:9100"})
    material = ("v1\x1f7\x1flabels\x1falertname\x1eDiskFull\x1finstance\x1edb-1:9100"
                "\x1fseverity\x1ecritical")
    assert fingerprint(e, integration_id=7) == hashlib.sha256(material.encode()).hexdigest()
    assert fingerprint(e, integration_id=7) == (
        "045c9d0c21873cebc724629a0eaced6ad0e7009781259b68adfdaacf233743e2")


def test_severity_label_is_part_of_the_identity_as_in_alertmanager() -> None:
    warn = ev(fp_labels={"alertname": "Disk", "severity": "warning"})
    crit = ev(fp_labels={"alertname": "Disk", "severity": "critical"})
    assert fingerprint(warn, integration_id=1) != fingerprint(crit, integration_id=1)


def test_without_alert_events_the_decisions_are_the_same_and_no_outbox() -> None:
    batch = [sub(ev(starts_at=T0)), sub(ev(starts_at=T0 + timedelta(minutes=1))),
             sub(ev("acknowledge")), sub(ev("resolve")),
             sub(ev(starts_at=T0 + timedelta(minutes=2)))]
    full, bare = decide([], batch, NOW), decide([], batch, NOW, outbox=False)
    assert [o.topic for o in full.outbox] == ["alert.created", "alert.repeated",
                                              "alert.acknowledged", "alert.resolved",
                                              "alert.created"]
    assert bare.outbox == []
    assert [(a and a.status, o) for a, o in bare.outcomes] == [
        (a and a.status, o) for a, o in full.outcomes]
    assert len(bare.new) == len(full.new) == 2 and len(bare.history) == 5


# --- Alertmanager identity: fingerprint and startsAt ---------------------------------------


def resolved_alert(*, starts_at: datetime = T0, resolved_by: str = "alertmanager",
                   source: str = "alertmanager", tenant: int = 1) -> AlertState:
    """The latest resolved alert of ``ev()``'s fingerprint, as the store loads it."""
    alert = decide([], [sub(ev(starts_at=starts_at), tenant=tenant)], T0).new[0]
    alert.id, alert.incident_id = 9, 70
    alert.source = source
    alert.status, alert.resolved_at, alert.resolved_by = "resolved", T0, resolved_by
    alert.ends_at = T0
    return alert


def last(alert: AlertState) -> dict[tuple[int, str], AlertState]:
    return {(alert.tenant_id, alert.fingerprint): alert}


@pytest.mark.parametrize("late", [timedelta(0), timedelta(minutes=-5)])
def test_stale_resend_of_a_resolved_alert_opens_nothing(late: timedelta) -> None:
    """An HA peer's (or a group's) re-send of the firing notification of an alert that has
    resolved since: the same startsAt (or an older one) is that alert, not a new one."""
    old = resolved_alert()
    d = decide([], [sub(ev(starts_at=T0 + late))], NOW, {0: "silence:1"}, resolved=last(old))
    assert d.new == [] and d.changed == {} and d.outbox == []
    assert d.outcomes == [(old, Outcome.IGNORED)]
    (h,) = d.history
    assert (h.alert, h.outcome) == (old, Outcome.IGNORED)  # kept in its history
    assert (old.status, old.occurrences, old.last_received_at) == ("resolved", 1, T0)


def test_firing_with_a_new_start_after_resolve_opens_a_new_alert() -> None:
    old = resolved_alert()
    later = T0 + timedelta(minutes=10)
    d = decide([], [sub(ev(starts_at=later))], NOW, resolved=last(old))
    assert [o for _, o in d.outcomes] == [Outcome.CREATED]
    assert d.new[0].starts_at == later and d.new[0] is not old


def test_resend_of_an_alert_a_person_resolved_while_it_fired_opens_a_new_alert() -> None:
    """The source never said it ended: still firing there, it is an alert again."""
    old = resolved_alert(resolved_by="user:alice")
    d = decide([], [sub(ev(starts_at=T0))], NOW, resolved=last(old))
    assert [o for _, o in d.outcomes] == [Outcome.CREATED]
    # ... but a notification older than it is still stale
    d = decide([], [sub(ev(starts_at=T0 - timedelta(minutes=1)))], NOW, resolved=last(old))
    assert [o for _, o in d.outcomes] == [Outcome.IGNORED]


@pytest.mark.parametrize("source", ["pagerduty", "generic", "opsgenie", "api"])
def test_sources_without_startsat_identity_always_open_a_new_alert(source: str) -> None:
    old = resolved_alert(source=source, resolved_by=source)
    event = ev(starts_at=T0)
    event.source = source
    d = decide([], [sub(event)], NOW, resolved=last(old))
    assert [o for _, o in d.outcomes] == [Outcome.CREATED]


def test_stale_resend_after_a_resolve_in_the_same_batch_is_ignored() -> None:
    batch = [sub(ev(starts_at=T0)), sub(ev("resolve", starts_at=T0)), sub(ev(starts_at=T0)),
             sub(ev(starts_at=T0 + timedelta(minutes=1)))]
    d = decide([], batch, NOW)
    first = d.new[0]
    assert [(a, o) for a, o in d.outcomes][:3] == [
        (first, Outcome.CREATED), (first, Outcome.RESOLVED), (first, Outcome.IGNORED)]
    assert d.outcomes[3][1] is Outcome.CREATED and len(d.new) == 2


def test_the_latest_resolved_alert_only_counts_for_its_tenant() -> None:
    old = resolved_alert(tenant=2)
    d = decide([], [sub(ev(starts_at=T0), tenant=1)], NOW, resolved=last(old))
    assert [o for _, o in d.outcomes] == [Outcome.CREATED]
