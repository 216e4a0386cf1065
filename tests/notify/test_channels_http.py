"""Teams, generic webhook, PagerDuty and Opsgenie adapters against a recording HTTP server
on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from channel_servers import RecordingServer, Reply, refused_url
from vigil.notify.base import Message
from vigil.notify.channels import build
from vigil.notify.channels._common import parse_retry_after
from vigil.notify.channels.webhook import WebhookChannel, verify

MSG = Message(key="inc-41:triggered:1", event="triggered", title="Disk full on db-1",
              text="/var is at 99%", severity="high", incident_id=41, incident_number=12,
              url="https://vigil.example/incidents/41", ack_url="https://vigil.example/a/x",
              resolve_url="https://vigil.example/r/y", fields={"service": "db", "env": "prod"},
              payload={"labels": {"host": "db-1"}, "title": "overridden"})
SECRET = "0123456789abcdef-secret"
PD_KEY = "R0123456789abcdef0123456789abcde"


@pytest.fixture
def srv() -> Iterator[RecordingServer]:
    with RecordingServer() as s:
        yield s


# --- Teams -----------------------------------------------------------------------------

def test_teams_posts_an_adaptive_card(srv: RecordingServer) -> None:
    srv.queue(Reply(202, ""))
    result = build("teams", {"webhook_url": f"{srv.url}/workflows/abc"}).send(MSG)
    (req,) = srv.wait()
    assert result.ok, result.detail
    body = req.json
    assert body["type"] == "message"
    (att,) = body["attachments"]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    title = card["body"][0]
    assert title["type"] == "TextBlock" and title["text"] == "INC-12 Disk full on db-1"
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert {"title": "Severity", "value": "high"} in facts
    assert {"title": "service", "value": "db"} in facts
    assert [(a["type"], a["title"], a["url"]) for a in card["actions"]] == [
        ("Action.OpenUrl", "Acknowledge", MSG.ack_url),
        ("Action.OpenUrl", "Resolve", MSG.resolve_url),
        ("Action.OpenUrl", "View incident", MSG.url)]


def test_teams_title_names_the_incident_once(srv: RecordingServer) -> None:
    srv.queue(Reply(202, ""))
    msg = replace(MSG, title="[TRIGGERED] INC-12 Disk full on db-1")
    assert build("teams", {"webhook_url": srv.url}).send(msg).ok
    content = srv.wait()[0].json["attachments"][0]["content"]
    assert content["body"][0]["text"] == "[TRIGGERED] INC-12 Disk full on db-1"
    facts = next(b for b in content["body"] if b["type"] == "FactSet")["facts"]
    assert {"title": "Incident", "value": "INC-12"} in facts
    assert "#12" not in json.dumps(content)


def test_teams_legacy_throttle_in_200_body_is_retryable(srv: RecordingServer) -> None:
    srv.queue(Reply(200, "Microsoft Teams endpoint returned HTTP error 429 with ContextId x"),
              Reply(400, "Bad payload received by generic incoming webhook."))
    ch = build("teams", {"webhook_url": srv.url})
    throttled, bad = ch.send(MSG), ch.send(MSG)
    assert not throttled.ok and throttled.retryable
    assert not bad.ok and not bad.retryable and "Bad payload" in bad.detail


# --- generic webhook ---------------------------------------------------------------------

def webhook(srv: RecordingServer, **extra: object) -> WebhookChannel:
    ch = build("webhook", {"url": f"{srv.url}/hook", "secret": SECRET,
                           "headers": {"Authorization": "Bearer abc"}, **extra})
    assert isinstance(ch, WebhookChannel)
    return ch


def test_webhook_body_headers_and_signature(srv: RecordingServer) -> None:
    ch = webhook(srv)
    ch.clock = lambda: 1_700_000_000.7
    assert ch.send(MSG).ok
    (req,) = srv.wait()
    assert req.headers["authorization"] == "Bearer abc"
    assert req.headers["x-vigil-event"] == "triggered"
    assert req.headers["x-vigil-key"] == MSG.key
    ts = req.headers["x-vigil-timestamp"]
    assert ts == "1700000000"
    body = req.json
    assert body["labels"] == {"host": "db-1"}
    assert body["title"] == "Disk full on db-1"  # Vigil's keys win over the payload
    assert {k: body[k] for k in ("event", "key", "severity", "incident_id", "url")} == {
        "event": "triggered", "key": MSG.key, "severity": "high", "incident_id": 41,
        "url": MSG.url}
    sig = req.headers["x-vigil-signature"]
    assert sig.startswith("v1=")
    assert verify(SECRET, ts, req.body, sig, now=1_700_000_100)
    assert verify(SECRET, ts, req.body, f"v1=deadbeef, {sig}", now=1_700_000_100)  # rotation
    assert not verify(SECRET, ts, req.body.replace(b"db-1", b"db-2"), sig, now=1_700_000_100)
    assert not verify("another-secret-value", ts, req.body, sig, now=1_700_000_100)
    assert not verify(SECRET, "1700000001", req.body, sig, now=1_700_000_100)
    assert not verify(SECRET, ts, req.body, sig, now=1_700_000_301)  # stale: replay window
    assert not verify(SECRET, ts, req.body, sig, now=1_699_999_699)  # from the future
    assert verify(SECRET, ts, req.body, sig, now=1_700_000_500, tolerance=600)
    assert not verify(SECRET, "soon", req.body, sig, now=1_700_000_000)


def test_webhook_without_secret_is_unsigned(srv: RecordingServer) -> None:
    assert build("webhook", {"url": srv.url}).send(MSG).ok
    assert "x-vigil-signature" not in srv.wait()[0].headers


def test_webhook_subscription_filter(srv: RecordingServer) -> None:
    ch = webhook(srv, events=["triggered", "resolved"])
    assert ch.wants("triggered") and ch.wants("resolved") and not ch.wants("acknowledged")
    assert webhook(srv).wants("acknowledged")  # no filter: everything
    skipped = ch.send(Message(key="k", event="acknowledged", title="t", text=""))
    assert skipped.ok and "not subscribed" in skipped.detail
    assert srv.requests == []


def test_status_mapping(srv: RecordingServer) -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    srv.queue(Reply(500, "boom"), Reply(429, "slow down", {"Retry-After": "12"}),
              Reply(503, "maintenance", {"Retry-After": format_datetime(later, usegmt=True)}),
              Reply(404, {"error": "no such hook"}), Reply(301, "", {"Location": "/x"}),
              Reply(204))
    ch = webhook(srv)
    five, limited, dated, missing, moved, fine = (ch.send(MSG) for _ in range(6))
    assert five.retryable and not five.ok and "boom" in five.detail
    assert limited.retryable and limited.retry_after == 12
    assert dated.retryable and dated.retry_after is not None and 100 < dated.retry_after <= 120
    assert not missing.retryable and "no such hook" in missing.detail and "404" in missing.detail
    assert not moved.ok and not moved.retryable
    assert fine.ok


def test_retry_after_parsing() -> None:
    assert parse_retry_after("5") == 5
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_connection_refused_is_retryable() -> None:
    for kind, config in [("webhook", {"url": refused_url()}),
                         ("teams", {"webhook_url": refused_url()}),
                         ("pagerduty", {"routing_key": PD_KEY, "base_url": refused_url()}),
                         ("opsgenie", {"api_key": "genie-key-1", "base_url": refused_url()})]:
        result = build(kind, config).send(MSG)
        assert not result.ok and result.retryable, kind
        assert "connection error" in result.detail


# --- PagerDuty ---------------------------------------------------------------------------

def test_pagerduty_trigger_ack_resolve(srv: RecordingServer) -> None:
    accepted = Reply(202, {"status": "success", "message": "Event processed",
                           "dedup_key": "vigil-41"})
    srv.queue(accepted, accepted, accepted)
    ch = build("pagerduty", {"routing_key": PD_KEY, "base_url": srv.url})
    results = [ch.send(MSG),
               ch.send(Message(key="a", event="acknowledged", title="t", text="",
                               incident_id=41)),
               ch.send(Message(key="r", event="resolved", title="t", text="", incident_id=41))]
    trigger, ack, resolve = srv.wait(3)
    assert all(r.ok for r in results)
    assert results[0].provider_id == "vigil-41"
    assert trigger.path == ack.path == resolve.path == "/v2/enqueue"
    body = trigger.json
    assert body["routing_key"] == PD_KEY
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "vigil-41"
    payload = body["payload"]
    assert payload["summary"] == "INC-12 Disk full on db-1"
    assert payload["severity"] == "error"  # Vigil "high"
    assert payload["source"] == "db"
    assert payload["custom_details"]["env"] == "prod"
    assert payload["custom_details"]["text"] == "/var is at 99%"
    assert body["links"] == [{"href": MSG.url, "text": "Vigil incident"}]
    assert ack.json == {"routing_key": PD_KEY, "event_action": "acknowledge",
                        "dedup_key": "vigil-41"}
    assert resolve.json["event_action"] == "resolve"


def test_pagerduty_invalid_event_is_permanent(srv: RecordingServer) -> None:
    srv.queue(Reply(400, {"status": "invalid event", "message": "Event object is invalid",
                          "errors": ["Length of 'routing_key' is incorrect"]}),
              Reply(429, "", {"Retry-After": "3"}))
    ch = build("pagerduty", {"routing_key": PD_KEY, "base_url": srv.url})
    bad, limited = ch.send(MSG), ch.send(MSG)
    assert not bad.retryable and "Event object is invalid" in bad.detail
    assert limited.retryable and limited.retry_after == 3


# --- Opsgenie ----------------------------------------------------------------------------

def test_opsgenie_create_acknowledge_close(srv: RecordingServer) -> None:
    accepted = Reply(202, {"result": "Request will be processed", "took": 0.1,
                           "requestId": "req-1"})
    srv.queue(accepted, accepted, accepted)
    ch = build("opsgenie", {"api_key": "genie-key-1", "base_url": srv.url,
                            "responders": ["ops"], "tags": ["vigil"]})
    created = ch.send(MSG)
    ch.send(Message(key="a", event="acknowledged", title="t", text="", incident_id=41))
    ch.send(Message(key="r", event="resolved", title="t", text="", incident_id=41))
    create, ack, close = srv.wait(3)
    assert created.ok and created.provider_id == "req-1"
    assert create.path == "/v2/alerts"
    assert create.headers["authorization"] == "GenieKey genie-key-1"
    body = create.json
    assert body["alias"] == "vigil-41"
    assert body["message"] == "INC-12 Disk full on db-1"
    assert body["priority"] == "P2"
    assert body["description"] == "/var is at 99%"
    assert body["responders"] == [{"type": "team", "name": "ops"}]
    assert body["details"]["env"] == "prod" and "vigil" in body["tags"]
    assert ack.path == "/v2/alerts/vigil-41/acknowledge"
    assert ack.query == {"identifierType": ["alias"]}
    assert close.path == "/v2/alerts/vigil-41/close"
    assert close.query == {"identifierType": ["alias"]}
    assert close.headers["authorization"] == "GenieKey genie-key-1"
    assert close.json["source"] == "Vigil"


def test_opsgenie_errors(srv: RecordingServer) -> None:
    srv.queue(Reply(422, {"message": "Request body is not processable. Please check the errors.",
                          "errors": {"message": "Message can not be empty."}}),
              Reply(401, {"message": "Could not authenticate"}), Reply(502, "bad gateway"))
    ch = build("opsgenie", {"api_key": "genie-key-1", "base_url": srv.url})
    invalid, unauth, gateway = ch.send(MSG), ch.send(MSG), ch.send(MSG)
    assert not invalid.retryable and "Message can not be empty" in invalid.detail
    assert not unauth.retryable and "Could not authenticate" in unauth.detail
    assert gateway.retryable


def test_webhook_non_ascii_key_is_percent_encoded(srv: RecordingServer) -> None:
    msg = Message(key="inc-1:größe", event="test", title="Größe", text="")
    assert build("webhook", {"url": srv.url}).send(msg).ok
    (req,) = srv.wait()
    assert req.headers["x-vigil-key"] == "inc-1:gr%C3%B6%C3%9Fe"
    assert req.json["key"] == "inc-1:größe" and req.json["title"] == "Größe"


def test_outbound_proxy_comes_from_the_environment_and_no_proxy_bypasses_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.notify.channels._common import _Http

    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "hooks.internal")
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    http = _Http()
    assert http.proxy("https://hooks.slack.com/services/x") == "http://proxy.internal:3128"
    assert http.proxy("https://hooks.internal/x") is None
    assert http.proxy("http://127.0.0.1:9/x") is None  # no HTTP_PROXY set
