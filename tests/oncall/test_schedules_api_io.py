"""On-call schedules in and out on both databases: iCalendar feeds and import as a temporary
schedule, YAML (round trip, shadowing overrides, the users a schedule names) and the CLI.

The clock stands at Sunday 2026-03-01 12:00 UTC. ``primary`` hands off daily at 09:00 UTC
from Friday 2026-02-27 in the order alice, bob, carol: bob has Feb 28, carol Mar 1 (until
Mar 2 09:00), alice Mar 2, bob Mar 3. ``secondary`` hands off weekly on Mondays at 09:00
Berlin time (08:00 UTC in winter) from Feb 23: dave, then bob from Mar 2 08:00 UTC.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from schedule_requests import (
    BASE,
    SECONDARY,
    USERS,
    body,
    call,
    create,
    error_field,
    on_call,
    u,
    users_fixture,  # noqa: F401  (the users fixture)
)
from typer.testing import CliRunner

from conftest import Harness
from oncall_people import add_users
from vigil import configfiles
from vigil.cli import app as vigil_cli
from vigil.db import Database
from vigil.errors import InvalidInput
from vigil.oncall.cli import oncall
from vigil.oncall.schedules import service as svc
from vigil.oncall.schedules.definition import Shift
from vigil.oncall.schedules.ical import export_ics, import_ics
from vigil.tenants.models import DEFAULT_TENANT_ID


def test_yaml_checks_the_users_a_schedule_names_when_it_commits(
        vigil: Harness, users: Any, tmp_path: Path) -> None:
    db, now = vigil.ctx.db, vigil.clock.now()

    def apply(*docs: dict[str, Any]) -> list[tuple[str, str, str]]:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
        with db.write() as s:
            return configfiles.apply(s, configfiles.load([path]), tenant_id=DEFAULT_TENANT_ID,
                                     now=now)

    erin = {"kind": "User", "username": "erin", "name": "Erin", "email": "erin@example.com"}
    schedule = {"kind": "Schedule", **body(participants=("alice", "erin"))}
    with pytest.raises(InvalidInput) as refused:
        apply(schedule)
    assert refused.value.field == "layers[0].rotation.participants[1]"
    assert "Schedule 'primary'" in refused.value.message and "'erin'" in refused.value.message
    assert call(vigil, "GET", BASE, 200) == []  # nothing was applied
    # A user defined later in the same run is fine.
    assert apply(schedule, erin) == [("Schedule", "primary", "created"),
                                     ("User", "erin", "created")]


def test_ical_feeds(vigil: Harness, users: dict[str, tuple[int, str]]) -> None:
    made = create(vigil, body())
    create(vigil, {**SECONDARY, "time_zone": "UTC", "layers": [{"rotation": {
        "type": "daily", "start": "2026-03-02T09:00", "participants": ["alice", "dave"]}}]})
    url = urlsplit(made["ical_url"])
    feed = f"{url.path}?{url.query}"
    for wrong in (f"{url.path}?token=nope", url.path, f"{BASE}/999/shifts.ics?token=x"):
        assert vigil.client.get(wrong).status_code == 404
    resp = vigil.client.get(feed)  # no API key
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/calendar")
    assert resp.text.count("BEGIN:VEVENT") == 92
    events = import_ics(resp.content)
    # bob's shift still running at midnight keeps its start; then 90 days and a bit.
    assert events[:2] == [Shift("bob", datetime(2026, 2, 28, 9, tzinfo=UTC), u(1, 9)),
                          Shift("carol", u(1, 9), u(2, 9))]
    assert events[-1] == Shift("carol", datetime(2026, 5, 30, 9, tzinfo=UTC),
                               datetime(2026, 5, 31, tzinfo=UTC))
    assert vigil.client.get(feed).content == resp.content  # stable within the day

    alice_id, alice_token = users["alice"]
    path = f"/api/v1/users/{alice_id}/shifts.ics"
    assert vigil.client.get(path, params={"token": users["bob"][1]}).status_code == 404
    assert vigil.client.get("/api/v1/users/999/shifts.ics?token=x").status_code == 404
    mine = import_ics(vigil.client.get(path, params={"token": alice_token}).content)
    # primary has alice on Mar 2, 5, 8, ...; secondary on Mar 2, 4, 6, 8, ... (09:00 to
    # 09:00): overlapping and back-to-back days are one event.
    assert {s.user for s in mine} == {"alice"}
    assert mine[:3] == [Shift("alice", u(2, 9), u(3, 9)), Shift("alice", u(4, 9), u(7, 9)),
                        Shift("alice", u(8, 9), u(9, 9))]


def test_import_a_calendar_as_a_temporary_schedule(vigil: Harness, users: Any) -> None:
    sid = create(vigil, body())["id"]
    ics = export_ics("holiday cover", [Shift("dave", u(1, 10), u(1, 14)),
                                       Shift("bob", u(1, 14), u(1, 18))])
    made = call(vigil, "POST", f"{BASE}/{sid}/import", 201, content=ics,
                headers={**vigil.auth, "Content-Type": "text/calendar"})
    assert (made["index"], made["start"], made["end"]) == (0, "2026-03-01T10:00:00Z",
                                                           "2026-03-01T18:00:00Z")
    assert [s["user"] for s in made["shifts"]] == ["dave", "bob"]
    assert [on_call(vigil, f"2026-03-01T{h:02}:00:00Z")["primary"] for h in (9, 12, 15, 18)] == [
        ["carol"], ["dave"], ["bob"], ["carol"]]
    later = export_ics("x", [Shift("alice", u(5, 0), u(5, 6))]).decode()
    assert call(vigil, "POST", f"{BASE}/{sid}/import", 201, json={"ics": later})["index"] == 1
    assert on_call(vigil, "2026-03-05T03:00:00Z") == {"primary": ["alice"]}
    stranger = export_ics("x", [Shift("zed", u(6, 0), u(6, 6))])
    for bad in (b"hello", stranger, export_ics("empty", [])):
        assert error_field(vigil, "POST", f"{BASE}/{sid}/import", 422, content=bad,
                           headers={**vigil.auth, "Content-Type": "text/calendar"}) == "ics"
    assert error_field(vigil, "POST", f"{BASE}/{sid}/import", 422, json={"ics": 1}) == "ics"
    assert len(call(vigil, "GET", f"{BASE}/{sid}", 200)["temporary"]) == 2


def test_yaml_round_trip(vigil: Harness, users: Any, tmp_path: Path) -> None:
    sid = create(vigil, body())["id"]
    call(vigil, "POST", f"{BASE}/{sid}/overrides", 201, json={
        "type": "add", "user": "dave", "start": "2026-03-01T11:00:00Z",
        "end": "2026-03-01T15:00:00Z"})
    db, now = vigil.ctx.db, vigil.clock.now()

    def apply(docs: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        path = tmp_path / "schedules.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        loaded = configfiles.load([path])
        with db.write() as s:
            return configfiles.apply(s, loaded, tenant_id=DEFAULT_TENANT_ID, now=now)

    with db.read() as s:
        text = configfiles.export(s, tenant_id=DEFAULT_TENANT_ID)
    (doc,) = [d for d in yaml.safe_load_all(text) if d["kind"] == "Schedule"]
    assert doc["name"] == "primary" and doc["overrides"][0]["user"] == "dave"
    assert apply([doc]) == [("Schedule", "primary", "unchanged")]

    written = yaml.safe_load("""
kind: Schedule
name: primary
time_zone: UTC
layers:
  - name: daily
    rotation: {type: daily, start: 2026-02-27 09:00:00, participants: [bob, carol, alice]}
""")  # YAML reads the start as a datetime; the override made through the API stays
    third = {"kind": "Schedule", **copy.deepcopy(SECONDARY), "name": "third"}
    assert apply([written, third]) == [("Schedule", "primary", "updated"),
                                       ("Schedule", "third", "created")]
    assert apply([written, third]) == [("Schedule", "primary", "unchanged"),
                                       ("Schedule", "third", "unchanged")]
    got = call(vigil, "GET", f"{BASE}/{sid}", 200)
    assert got["on_call_now"] == ["alice", "dave"] and len(got["overrides"]) == 1
    assert got["layers"][0]["rotation"]["start"] == "2026-02-27T09:00:00"
    bad = {**written, "time_zone": "Mars/Olympus"}
    with pytest.raises(InvalidInput) as refused:
        apply([bad])
    assert refused.value.field == "schedules.yaml#1.time_zone"


def test_cli_oncall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("VIGIL_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(vigil_cli, ["migrate"]).exit_code == 0
    cli = typer.Typer()
    cli.command()(oncall)
    assert runner.invoke(cli, []).output.strip() == "no schedules"
    db = Database(url)
    now = u(1, 12)
    add_users(db, now, *USERS)
    with db.write() as s:
        svc.create_schedule(s, tenant_id=DEFAULT_TENANT_ID, data=body(), now=now)
        svc.create_schedule(s, tenant_id=DEFAULT_TENANT_ID, data=SECONDARY, now=now)
    db.dispose()
    result = runner.invoke(cli, ["--at", "2026-03-01T12:00:00Z"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "on call at 2026-03-01T12:00:00Z",
        "SCHEDULE   ON CALL NOW  NEXT HANDOFF",
        "primary    carol        2026-03-02 09:00:00 UTC -> alice",
        "secondary  dave         2026-03-02 08:00:00 UTC -> bob"]
    bad = runner.invoke(cli, ["--at", "2026-03-01T12:00:00"])
    assert bad.exit_code == 2 and "timezone-aware" in bad.output
