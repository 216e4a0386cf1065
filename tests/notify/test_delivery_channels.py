"""Channel deliveries end to end on both databases: routing rules become deliveries sent
through real channels (an HTTP receiver and an aiosmtpd SMTP server on 127.0.0.1),
retried with backoff and dead-lettered onto the timeline, keeping their keys, within rate
limits and in order per target; channel validation, test sends and previews; channels
and routing as YAML; Slack threads; a slow or absent receiver is retried, never sent to
twice."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from delivery_rows import deliveries

from channel_sinks import Sink, channel, email_channel
from conftest import Harness
from incident_api import act, alert, am, incidents
from paging import escalate, setup
from vigil.worker.notifier import finish, prepare, run_once


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    port: int = 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec.bodies.append(json.loads(body or b"{}"))
            rec.headers.append(dict(self.headers))
            status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def test_routing_rules_retry_with_backoff_then_dead_letter(vigil: Harness,
                                                           receiver: Receiver) -> None:
    channel(vigil, name="ops-hook", kind="webhook",
            config={"url": f"http://127.0.0.1:{receiver.port}/hook",
                    "secret": "a-long-enough-secret"})
    made = vigil.client.post("/api/v1/routing-rules", headers=vigil.auth, json={
        "name": "critical to the hook", "severities": ["critical"], "channels": ["ops-hook"]})
    assert made.status_code == 201, made.text
    receiver.statuses = [503, 200]
    vigil.post_alertmanager(am(alert("Down", severity="critical"), alert("Meh", service="x")))
    first = run_once(vigil.ctx).counts
    assert (first["planned"], first["sent"], first["failed"]) == (1, 0, 1)
    (d,) = deliveries(vigil)
    assert d.status == "retrying" and d.attempts == 1
    assert d.next_attempt_at is not None
    wait = (d.next_attempt_at - vigil.clock.now()).total_seconds()
    assert 8 <= wait <= 12  # 10 s +- 20% jitter
    assert run_once(vigil.ctx).counts["sent"] == 0  # not due yet
    vigil.clock.advance(seconds=13)
    assert run_once(vigil.ctx).counts["sent"] == 1
    assert len(receiver.bodies) == 2
    assert receiver.headers[1]["X-Vigil-Key"] == receiver.headers[0]["X-Vigil-Key"]
    # A permanent failure dies at once, lands on the timeline and raises a self-alert.
    receiver.statuses = [400]
    (inc,) = [i for i in incidents(vigil) if i["title"].startswith("Down")]
    act(vigil, inc["id"], "resolve")
    vigil.client.post("/api/v1/routing-rules", headers=vigil.auth, json={
        "name": "resolved too", "events": ["resolved"], "channels": ["ops-hook"]})
    vigil.post_alertmanager(am(alert("Again", severity="critical")))
    report = run_once(vigil.ctx)
    assert report.counts["dead"] == 1
    subs = report.alerts
    assert [s.event.name for s in subs] == ["NotificationFailed"]
    assert subs[0].event.labels["channel"] == "webhook"


def test_news_due_with_a_retry_is_not_folded_into_it(vigil: Harness,
                                                     receiver: Receiver) -> None:
    """A re-send keeps its first key; a receiver that drops keys it has seen would drop
    the news folded into it. Only first tries fold."""
    channel(vigil, name="ops-hook", kind="webhook",
            config={"url": f"http://127.0.0.1:{receiver.port}/hook"})
    vigil.client.post("/api/v1/routing-rules", headers=vigil.auth,
                      json={"name": "all", "channels": ["ops-hook"]})
    receiver.statuses = [503]
    vigil.post_alertmanager(am(alert("Down", severity="critical")))
    assert run_once(vigil.ctx).counts["failed"] == 1  # "triggered": retried in ~10 s
    (inc,) = incidents(vigil)
    act(vigil, inc["id"], "acknowledge")
    vigil.clock.advance(seconds=13)  # the retry and the new notice are due together
    assert run_once(vigil.ctx).counts["sent"] == 2
    events = [b["event"] for b in receiver.bodies]
    assert sorted(events[1:]) == ["acknowledged", "triggered"]
    assert len({h["X-Vigil-Key"] for h in receiver.headers}) == 2


def test_rate_limit_queues_and_a_burst_is_coalesced(vigil: Harness,
                                                    receiver: Receiver) -> None:
    channel(vigil, name="hook", kind="webhook", rate_per_minute=1,
            config={"url": f"http://127.0.0.1:{receiver.port}/hook"})
    vigil.client.post("/api/v1/routing-rules", headers=vigil.auth,
                      json={"name": "all", "channels": ["hook"]})
    vigil.post_alertmanager(am(alert("A")))
    (a,) = incidents(vigil)
    act(vigil, a["id"], "acknowledge")
    act(vigil, a["id"], "resolve")
    vigil.post_alertmanager(am(alert("B", service="other")))
    done = run_once(vigil.ctx).counts
    # Incident A's created, acknowledged, resolved go out as one message; B waits its turn.
    assert done["sent"] == 1 and len(receiver.bodies) == 1
    statuses = sorted(d.status for d in deliveries(vigil))
    assert statuses == ["coalesced", "coalesced", "pending", "sent"]
    vigil.clock.advance(seconds=61)
    assert run_once(vigil.ctx).counts["sent"] == 1
    assert len(receiver.bodies) == 2


def test_overlapping_passes_keep_order_per_target_and_count_sends_under_way(
        vigil: Harness, receiver: Receiver) -> None:
    """The notifier claims the next pass while the last one is still sending: news about an
    incident waits for the earlier message to the same target, and messages under way
    count against the rate limit."""
    channel(vigil, name="hook", kind="webhook", rate_per_minute=2,
            config={"url": f"http://127.0.0.1:{receiver.port}/hook"})
    vigil.client.post("/api/v1/routing-rules", headers=vigil.auth,
                      json={"name": "all", "channels": ["hook"]})
    vigil.post_alertmanager(am(alert("A")))
    (a,) = incidents(vigil)
    first = prepare(vigil.ctx)  # A's "triggered" is claimed, not yet sent
    assert [c.event for c in first.claims] == ["triggered"]
    act(vigil, a["id"], "acknowledge")
    vigil.post_alertmanager(am(alert("B", service="other")))
    vigil.post_alertmanager(am(alert("C", service="third")))
    second = prepare(vigil.ctx)
    # A's acknowledgement waits for its trigger; B goes; C is over the limit of 2 a minute
    # because A's trigger is under way.
    assert [c.message.incident_number for c in second.claims] == [2]
    finish(vigil.ctx, first)
    finish(vigil.ctx, second)
    assert [b["event"] for b in receiver.bodies] == ["triggered", "triggered"]
    vigil.clock.advance(seconds=61)
    third = run_once(vigil.ctx).counts
    assert third["sent"] == 2
    events = [(b["incident"]["number"], b["event"]) for b in receiver.bodies]
    assert sorted(events[2:]) == [(1, "acknowledged"), (3, "triggered")]


def test_channel_validation_test_send_and_preview(vigil: Harness,
                                                  smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    bad = vigil.client.post("/api/v1/channels", headers=vigil.auth, json={
        "name": "x", "kind": "email", "config": {"smtp_host": "127.0.0.1"}})
    assert bad.status_code == 422 and bad.json()["error"]["field"].startswith("config")
    unknown = vigil.client.post("/api/v1/channels", headers=vigil.auth, json={
        "name": "x", "kind": "carrier-pigeon", "config": {}})
    assert unknown.status_code == 422
    made = email_channel(vigil, port)
    assert vigil.client.post("/api/v1/channels", headers=vigil.auth, json={
        "name": "smtp2", "kind": "email", "personal": True, "config": {
            "smtp_host": "127.0.0.1", "smtp_port": port, "security": "none",
            "from_address": "v@example.com"}}).status_code == 409
    sent = vigil.client.post(f"/api/v1/channels/{made['id']}/test", headers=vigil.auth,
                             json={"address": "me@example.com"})
    assert sent.status_code == 200 and sent.json()["ok"] is True, sent.text
    assert sink.messages[-1]["To"] == "me@example.com"
    vigil.post_alertmanager(am(alert("Disk", severity="critical", cluster="eu")))
    (inc,) = incidents(vigil)
    shown = vigil.client.post("/api/v1/notification-templates/preview", headers=vigil.auth,
                              json={"incident_id": inc["id"], "kind": "sms"}).json()
    assert shown["text"].startswith("INC-1 TRIGGERED critical: Disk on checkout")
    assert "Reply 1a to ack" in shown["text"]
    custom = vigil.client.post("/api/v1/notification-templates/preview", headers=vigil.auth,
                               json={"incident_id": inc["id"], "kind": "email",
                                     "title": "{{ incident.severity }}!",
                                     "body": "{{ labels.cluster }}"}).json()
    assert (custom["title"], custom["text"]) == ("critical!", "eu")
    broken = vigil.client.put("/api/v1/notification-templates", headers=vigil.auth, json={
        "kind": "email", "event": "triggered", "title": "{{ oops", "body": "x"})
    assert broken.status_code == 422 and broken.json()["error"]["field"] == "title"


def test_channels_and_routing_as_yaml(vigil: Harness, tmp_path: Any) -> None:
    from datetime import UTC, datetime

    from vigil import configfiles

    (tmp_path / "notify.yaml").write_text("""\
kind: NotificationChannel
name: ops-hook
type: webhook
config: {url: "http://127.0.0.1:9/hook"}
---
kind: RoutingRule
name: critical to ops
severities: [critical]
channels: [ops-hook]
""")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with vigil.ctx.db.write() as s:
        assert [o for *_, o in configfiles.apply(s, configfiles.load([tmp_path]),
                                                 tenant_id=1, now=now)] == ["created", "created"]
    with vigil.ctx.db.read() as s:
        text = configfiles.export(s, tenant_id=1)
    assert "type: webhook" in text and "critical to ops" in text
    (tmp_path / "notify.yaml").write_text(text)
    with vigil.ctx.db.write() as s:
        outcomes = {o for *_, o in configfiles.apply(s, configfiles.load([tmp_path]),
                                                     tenant_id=1, now=now)}
    assert outcomes == {"unchanged"}
    (tmp_path / "notify.yaml").write_text(
        "kind: NotificationChannel\nname: x\ntype: webhook\nconfig: {url: 'ftp://x'}\n")
    with pytest.raises(Exception, match=r"notify.yaml#1: config.url"):
        configfiles.load([tmp_path])


def test_slack_news_about_an_incident_goes_in_its_first_messages_thread(
        vigil: Harness) -> None:
    from channel_servers import RecordingServer, Reply

    ts = "1700000000.000100"
    with RecordingServer(default=Reply(200, {"ok": True, "channel": "C0OPS", "ts": ts})) as srv:
        channel(vigil, name="ops-slack", kind="slack",
                config={"token": "xoxb-test-token", "channel": "#ops",
                        "base_url": f"{srv.url}/api/"})
        vigil.client.post("/api/v1/routing-rules", headers=vigil.auth,
                          json={"name": "all to slack", "channels": ["ops-slack"]})
        vigil.post_alertmanager(am(alert("Down", severity="critical")))
        assert run_once(vigil.ctx).counts["sent"] == 1
        (inc,) = incidents(vigil)
        act(vigil, inc["id"], "acknowledge")
        assert run_once(vigil.ctx).counts["sent"] == 1
        first, reply, *_ = srv.wait(2)
        assert first.path == "/api/chat.postMessage" and "thread_ts" not in first.json
        assert reply.path == "/api/chat.postMessage" and reply.json["thread_ts"] == ts
        assert [r.path for r in srv.requests[2:]] == ["/api/chat.update"]


def test_smtp_down_then_back_delivers_once_and_metrics_count_attempts(vigil: Harness) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    email_channel(vigil, port)  # nothing listens there yet
    setup(vigil)
    escalate(vigil)
    first = run_once(vigil.ctx).counts
    assert first["sent"] == 0 and first["failed"] == 1  # connection refused: retry later
    (d,) = [x for x in deliveries(vigil) if x.channel_kind == "email"]
    assert d.status == "retrying" and "refused" in (d.last_error or "").lower()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        vigil.clock.advance(seconds=13)
        assert run_once(vigil.ctx).counts["sent"] == 1
        vigil.clock.advance(minutes=3)  # past every backoff, before the policy's 2nd step
        assert run_once(vigil.ctx).counts["sent"] == 0
        assert len(sink.messages) == 1
    finally:
        controller.stop()
    metrics = vigil.client.get("/metrics").text
    assert 'vigil_notifications_total{kind="email",outcome="retrying"} 1.0' in metrics
    assert 'vigil_notifications_total{kind="email",outcome="sent"} 1.0' in metrics
    assert 'vigil_notification_seconds_count{kind="email"} 2.0' in metrics


def test_a_receiver_slower_than_the_timeout_is_retried(vigil: Harness) -> None:
    release = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            release.wait(5)  # longer than the channel's timeout
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        channel(vigil, name="slow", kind="webhook",
                config={"url": f"http://127.0.0.1:{server.server_address[1]}/", "timeout": 0.3})
        vigil.client.post("/api/v1/routing-rules", headers=vigil.auth,
                          json={"name": "all", "channels": ["slow"]})
        vigil.post_alertmanager(am(alert("A")))
        done = run_once(vigil.ctx).counts
        assert done["failed"] == 1
        (d,) = deliveries(vigil)
        assert d.status == "retrying"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_routed_email_goes_to_the_rules_address(vigil: Harness,
                                                smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    channel(vigil, name="ops-mail", kind="email", config={
        "smtp_host": "127.0.0.1", "smtp_port": port, "security": "none",
        "from_address": "vigil@example.com"})
    assert vigil.client.post("/api/v1/routing-rules", headers=vigil.auth, json={
        "name": "critical mail", "severities": ["critical"], "channels": ["ops-mail"],
        "address": "ops@example.com"}).status_code == 201
    vigil.post_alertmanager(am(alert("Down", severity="critical")))
    assert run_once(vigil.ctx).counts["sent"] == 1
    (mail,) = sink.messages
    assert mail["To"] == "ops@example.com"
    assert "/ui/incidents/" in mail.get_payload()[0].get_payload(decode=True).decode()
