"""Maintenance windows, inhibition and flapping through the API and the real pipeline, on
both databases: muted alerts are kept as suppressed (with the reason), never dropped, and
open no incident."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import Harness
from incident_api import alert, am, incidents
from vigil import configfiles
from vigil.tenants.models import DEFAULT_TENANT_ID

WINDOWS = "/api/v1/maintenance-windows"
INHIBIT = "/api/v1/inhibition-rules"


def post(h: Harness, path: str, body: dict[str, Any]) -> Any:
    return h.client.post(path, headers=h.auth, json=body)


def outcomes(resp: Any) -> list[str]:
    assert resp.status_code == 202, resp.text
    return [a["outcome"] for a in resp.json()["alerts"]]


def test_recurring_window_mutes_its_alerts_only_during_occurrences(vigil: Harness) -> None:
    # The clock starts on Sunday 2026-03-01 12:00 UTC, 13:00 in Berlin.
    made = post(vigil, WINDOWS, {"name": "db patching", "matchers": ['service="db"'],
                                 "schedule": {"cron": "0 13 * * 0",
                                              "timezone": "Europe/Berlin"},
                                 "duration_minutes": 60, "comment": "weekly"})
    assert made.status_code == 201, made.text
    window = made.json()
    assert window["state"] == "active"
    assert window["active_until"] == "2026-03-01T13:00:00Z"
    # The current occurrence, then the next ones: 13:00 Berlin on both sides of the DST
    # change of 2026-03-29 (12:00 UTC before, 11:00 UTC after).
    assert [n["starts_at"] for n in window["next"]] == [
        "2026-03-01T12:00:00Z", "2026-03-08T12:00:00Z", "2026-03-15T12:00:00Z",
        "2026-03-22T12:00:00Z", "2026-03-29T11:00:00Z"]
    assert outcomes(vigil.post_alertmanager(am(alert("DiskFull", service="db"),
                                               alert("DiskFull", service="web")))) == [
        "suppressed", "created"]
    by_service = {a["service"]: a for a in vigil.alerts()}
    assert by_service["db"]["suppressed_by"] == f"maintenance:{window['id']}"
    assert [i["services"] for i in incidents(vigil)] == [["web"]]

    vigil.clock.advance(minutes=61)  # the occurrence is over
    assert vigil.client.get(f"{WINDOWS}/{window['id']}", headers=vigil.auth).json()[
        "state"] == "scheduled"
    refire = alert("DiskFull", service="db")
    refire["startsAt"] = "2026-03-01T13:01:00Z"
    assert outcomes(vigil.post_alertmanager(am(refire))) == ["unsuppressed"]
    assert sorted(s for i in incidents(vigil) for s in i["services"]) == ["db", "web"]


def test_one_off_window_and_deleting_it(vigil: Harness) -> None:
    made = post(vigil, WINDOWS, {"name": "migration", "matchers": ['cluster=~"eu-.*"'],
                                 "duration_minutes": 30})
    assert made.status_code == 201, made.text
    assert made.json()["ends_at"] == "2026-03-01T12:30:00+00:00"
    assert outcomes(vigil.post_alertmanager(am(alert("X", cluster="eu-1")))) == ["suppressed"]
    deleted = vigil.client.delete(f"{WINDOWS}/{made.json()['id']}", headers=vigil.auth)
    assert deleted.status_code == 204
    assert outcomes(vigil.post_alertmanager(am(alert("Y", cluster="eu-2")))) == ["created"]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "w", "schedule": {"cron": "61 * * * *"}, "duration_minutes": 5},
     "schedule.cron"),
    ({"name": "w", "schedule": {"rrule": "FREQ=SOMETIMES"}, "duration_minutes": 5},
     "schedule.rrule"),
    ({"name": "w", "schedule": {"cron": "0 2 * * 0", "timezone": "Mars/Olympus"},
      "duration_minutes": 5}, "schedule.timezone"),
    ({"name": "w", "schedule": {"cron": "0 2 * * 0"}}, "duration_minutes"),
    ({"name": "w", "matchers": ["=nope"], "duration_minutes": 5}, "matchers[0]"),
    ({"name": "w", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-02T00:00:00Z"},
     "ends_at"),  # already over
    ({"name": "", "duration_minutes": 5}, "name"),
    ({"name": "w", "duration_minutes": 5, "color": "red"}, "color"),
])
def test_bad_windows_are_refused_at_save_time(vigil: Harness, body: dict[str, Any],
                                              field: str) -> None:
    resp = post(vigil, WINDOWS, body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == field
    assert vigil.client.get(WINDOWS, headers=vigil.auth).json() == []


def test_duplicate_window_name_is_a_conflict_and_changes_nothing(vigil: Harness) -> None:
    assert post(vigil, WINDOWS, {"name": "w", "duration_minutes": 5}).status_code == 201
    again = post(vigil, WINDOWS, {"name": "w", "duration_minutes": 50})
    assert again.status_code == 409
    (only,) = vigil.client.get(WINDOWS, headers=vigil.auth).json()
    assert only["ends_at"] == "2026-03-01T12:05:00+00:00"


def test_inhibition_mutes_targets_sharing_the_equal_labels(vigil: Harness) -> None:
    made = post(vigil, INHIBIT, {"name": "critical mutes warning",
                                 "source_matchers": ['severity="critical"'],
                                 "target_matchers": ['severity="warning"'],
                                 "equal": ["cluster"]})
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    # Source and target in one batch inhibit at once.
    got = outcomes(vigil.post_alertmanager(am(
        alert("NodeDown", severity="critical", cluster="eu"),
        alert("HighLatency", severity="warning", cluster="eu"),
        alert("HighLatency", severity="warning", cluster="us"))))
    assert got == ["created", "suppressed", "created"]
    muted = [a for a in vigil.alerts() if a["status"] == "suppressed"]
    assert [(a["labels"]["cluster"], a["suppressed_by"]) for a in muted] == [
        ("eu", f"inhibited:{rid}")]
    # Later targets are muted by the stored source too.
    assert outcomes(vigil.post_alertmanager(am(
        alert("ErrorRate", severity="warning", cluster="eu")))) == ["suppressed"]
    # The source resolves: the target's next notification opens its incident.
    vigil.post_alertmanager(am(alert("NodeDown", "resolved", severity="critical",
                                     cluster="eu")))
    refire = alert("HighLatency", severity="warning", cluster="eu")
    refire["startsAt"] = "2026-03-01T12:05:00Z"
    assert outcomes(vigil.post_alertmanager(am(refire))) == ["unsuppressed"]
    bad = post(vigil, INHIBIT, {"name": "x", "source_matchers": [],
                                "target_matchers": ['severity="warning"']})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "source_matchers"
    dup = post(vigil, INHIBIT, {"name": "critical mutes warning",
                                "source_matchers": ['a="b"'], "target_matchers": ['c="d"']})
    assert dup.status_code == 409
    assert vigil.client.delete(f"{INHIBIT}/{rid}", headers=vigil.auth).status_code == 204
    assert outcomes(vigil.post_alertmanager(am(
        alert("Other", severity="warning", cluster="eu")))) == ["created"]


def test_flapping_alert_is_marked_and_opens_nothing_until_it_settles(vigil: Harness) -> None:
    seen: list[str] = []
    for cycle in range(4):
        fire = alert("Flappy", instance="x")
        fire["startsAt"] = f"2026-03-01T12:{cycle * 2:02d}:00Z"
        seen += outcomes(vigil.post_alertmanager(am(fire)))
        vigil.clock.advance(minutes=1)
        seen += outcomes(vigil.post_alertmanager(am(alert("Flappy", "resolved",
                                                          instance="x"))))
        vigil.clock.advance(minutes=1)
    # Changes are counted from the first resolve: resolve, fire, resolve, fire, resolve make
    # 5 within 30 minutes, so the fourth fire is muted as flapping.
    assert seen == ["created", "resolved", "created", "resolved", "created", "resolved",
                    "suppressed", "resolved"]
    flapped = [a for a in vigil.alerts() if a["suppressed_by"] == "flapping"]
    assert len(flapped) == 1
    assert len(incidents(vigil)) == 1  # the first fires reopened one incident
    # Quiet for longer than the window: it no longer flaps.
    vigil.clock.advance(minutes=31)
    fire = alert("Flappy", instance="x")
    fire["startsAt"] = "2026-03-01T12:50:00Z"
    assert outcomes(vigil.post_alertmanager(am(fire))) == ["created"]


def test_yaml_applies_windows_and_inhibition_rules(vigil: Harness, tmp_path: Path) -> None:
    (tmp_path / "quiet.yaml").write_text("""\
kind: MaintenanceWindow
name: sunday patching
matchers: ['service="db"']
schedule: {rrule: "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0", timezone: Europe/Berlin}
duration_minutes: 120
---
kind: InhibitionRule
name: node down mutes the rest
source_matchers: ['alertname="NodeDown"']
target_matchers: ['severity=~"warning|info"']
equal: [instance]
""")
    docs = configfiles.load([tmp_path])
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with vigil.ctx.db.write() as s:
        assert configfiles.apply(s, docs, tenant_id=DEFAULT_TENANT_ID, now=now) == [
            ("MaintenanceWindow", "sunday patching", "created"),
            ("InhibitionRule", "node down mutes the rest", "created")]
    with vigil.ctx.db.write() as s:
        assert [o for _, _, o in configfiles.apply(s, docs, tenant_id=DEFAULT_TENANT_ID,
                                                   now=now)] == ["unchanged", "unchanged"]
    with vigil.ctx.db.read() as s:
        text = configfiles.export(s, tenant_id=DEFAULT_TENANT_ID)
    assert "kind: MaintenanceWindow" in text and "FREQ=WEEKLY;BYDAY=SU" in text
    (tmp_path / "quiet.yaml").write_text(text)
    with vigil.ctx.db.write() as s:
        assert [o for _, _, o in configfiles.apply(s, configfiles.load([tmp_path]),
                                                   tenant_id=DEFAULT_TENANT_ID, now=now)] == [
            "unchanged", "unchanged"]
    (tmp_path / "quiet.yaml").write_text(
        "kind: MaintenanceWindow\nname: bad\nschedule: {cron: 'nope'}\nduration_minutes: 5\n")
    with pytest.raises(Exception, match=r"quiet.yaml#1: schedule.cron"):
        configfiles.load([tmp_path])


def test_stale_re_sends_of_a_resolved_alert_do_not_make_it_flap(vigil: Harness) -> None:
    """Alertmanager re-sends a group's old firing notification (an HA peer, a group
    re-send) after the alert resolved: that is no state change, so no flapping."""
    fire = alert("Steady", instance="y")
    fire["startsAt"] = "2026-03-01T11:58:00Z"
    assert outcomes(vigil.post_alertmanager(am(fire))) == ["created"]
    vigil.clock.advance(minutes=1)
    gone = alert("Steady", "resolved", instance="y")
    gone["startsAt"] = fire["startsAt"]
    assert outcomes(vigil.post_alertmanager(am(gone))) == ["resolved"]
    for _ in range(6):  # each would have counted as a fire, then resolve
        vigil.clock.advance(minutes=1)
        assert outcomes(vigil.post_alertmanager(am(fire))) == ["ignored"]
    vigil.clock.advance(minutes=1)
    again = alert("Steady", instance="y")
    again["startsAt"] = "2026-03-01T12:08:00Z"  # it really fires again: a new alert
    assert outcomes(vigil.post_alertmanager(am(again))) == ["created"]
    assert not [a for a in vigil.alerts() if a["suppressed_by"] == "flapping"]
