"""Slack: webhook mode over httpx, bot mode through slack-sdk's WebClient, both against a
recording server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from channel_servers import RecordingServer, Reply, refused_url
from vigil.notify.base import Message
from vigil.notify.channels import build
from vigil.notify.channels.slack import SlackChannel, blocks

MSG = Message(key="k1", event="triggered", title="API 5xx rate high", text="*5%* of requests",
              severity="critical", incident_id=41, incident_number=12,
              url="https://vigil.example/incidents/41", ack_url="https://vigil.example/a/x",
              resolve_url="https://vigil.example/r/y",
              fields={"service": "api", "env": "prod"})
TS = "1700000000.000100"


@pytest.fixture
def srv() -> Iterator[RecordingServer]:
    with RecordingServer() as s:
        yield s


def bot(srv: RecordingServer, **extra: Any) -> SlackChannel:
    ch = build("slack", {"token": "xoxb-test-token", "channel": "#ops",
                         "base_url": f"{srv.url}/api/", "timeout": 5, **extra})
    assert isinstance(ch, SlackChannel)
    return ch


def ok_post(ts: str = TS) -> Reply:
    return Reply(200, {"ok": True, "channel": "C0OPS", "ts": ts, "message": {"ts": ts}})


def block_types(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["type"] for b in blocks]


def test_webhook_posts_text_and_blocks(srv: RecordingServer) -> None:
    ch = build("slack", {"webhook_url": f"{srv.url}/services/T/B/X"})
    result = ch.send(MSG)
    (req,) = srv.wait()
    assert result.ok, result.detail
    assert req.method == "POST" and req.path == "/services/T/B/X"
    assert req.headers["content-type"] == "application/json"
    body = req.json
    assert "INC-12 API 5xx rate high" in body["text"] and "#12" not in body["text"]
    assert block_types(body["blocks"]) == ["header", "section", "section", "context", "actions"]


def test_webhook_errors(srv: RecordingServer) -> None:
    srv.queue(Reply(404, "channel_not_found"), Reply(429, "rate limited", {"Retry-After": "7"}),
              Reply(503, "down"))
    ch = build("slack", {"webhook_url": f"{srv.url}/hook"})
    gone, limited, down = ch.send(MSG), ch.send(MSG), ch.send(MSG)
    assert not gone.ok and not gone.retryable and "channel_not_found" in gone.detail
    assert limited.retryable and limited.retry_after == 7
    assert down.retryable and down.retry_after is None


def test_bot_post_matches_chat_post_message(srv: RecordingServer) -> None:
    srv.queue(ok_post())
    result = bot(srv).send(MSG)
    (req,) = srv.wait()
    assert result.ok, result.detail
    assert result.provider_id == TS
    assert req.path == "/api/chat.postMessage"
    assert req.headers["authorization"] == "Bearer xoxb-test-token"
    body = req.json
    assert body["channel"] == "#ops"
    assert "API 5xx rate high" in body["text"]
    assert "thread_ts" not in body
    blocks = body["blocks"]
    assert block_types(blocks) == ["header", "section", "section", "context", "actions"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "INC-12 API 5xx rate high",
                                 "emoji": True}
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert "*Severity*\ncritical" in fields and "*Service*\napi" in fields
    buttons = {e["text"]["text"]: e["url"] for e in blocks[-1]["elements"]}
    assert buttons == {"Acknowledge": MSG.ack_url, "Resolve": MSG.resolve_url}


def test_a_title_that_names_the_incident_names_it_once(srv: RecordingServer) -> None:
    """The built-in title already says INC-12: the adapter adds no "#12" in front."""
    srv.queue(ok_post())
    msg = replace(MSG, title="[TRIGGERED] INC-12 API 5xx rate high")
    assert bot(srv).send(msg).ok
    body = srv.wait()[0].json
    header = body["blocks"][0]["text"]["text"]
    assert header == "[TRIGGERED] INC-12 API 5xx rate high"
    assert body["text"] == ":red_circle: [CRITICAL] [TRIGGERED] INC-12 API 5xx rate high"
    # INC-120 is another incident: INC-12 is still added.
    other = replace(MSG, title="INC-120 is related")
    assert blocks(other)[0]["text"]["text"] == "INC-12 INC-120 is related"


def test_address_overrides_channel(srv: RecordingServer) -> None:
    srv.queue(ok_post())
    msg = Message(key="k", event="test", title="hello", text="", address="C0OTHER")
    assert bot(srv).send(msg).ok
    assert srv.wait()[0].json["channel"] == "C0OTHER"


def test_thread_reply_and_update_on_resolve(srv: RecordingServer) -> None:
    srv.queue(ok_post("1700000001.000200"),
              Reply(200, {"ok": True, "channel": "C0OPS", "ts": TS}))
    msg = Message(key="k2", event="resolved", title="API 5xx rate high", text="back to normal",
                  severity="critical", incident_number=12, thread=TS,
                  ack_url="https://vigil.example/a/x", resolve_url="https://vigil.example/r/y")
    result = bot(srv).send(msg)
    reply, update = srv.wait(2)
    assert result.ok, result.detail
    assert result.provider_id == TS
    assert reply.path == "/api/chat.postMessage"
    assert reply.json["thread_ts"] == TS and reply.json["channel"] == "#ops"
    assert update.path == "/api/chat.update"
    assert update.json["ts"] == TS
    assert update.json["channel"] == "C0OPS"  # the id Slack returned, not the name
    assert "Resolved" in update.json["text"]
    assert "actions" not in block_types(update.json["blocks"])


def test_thread_reply_without_update_for_escalation(srv: RecordingServer) -> None:
    srv.queue(ok_post("1700000002.000300"))
    msg = Message(key="k3", event="escalated", title="t", text="", thread=TS)
    assert bot(srv).send(msg).ok
    (req,) = srv.wait()
    assert req.json["thread_ts"] == TS
    assert len(srv.requests) == 1


def test_failed_update_keeps_the_delivered_reply(srv: RecordingServer) -> None:
    srv.queue(ok_post("1700000003.000400"), Reply(200, {"ok": False, "error": "cant_update"}))
    result = bot(srv).send(Message(key="k", event="acknowledged", title="t", text="",
                                   thread=TS))
    assert result.ok and "cant_update" in result.detail


def test_ratelimited_is_retryable_with_retry_after(srv: RecordingServer) -> None:
    srv.queue(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}))
    result = bot(srv).send(MSG)
    assert not result.ok and result.retryable
    assert result.retry_after == 30
    assert "ratelimited" in result.detail
    assert len(srv.requests) == 1  # the SDK did not retry on its own


def test_api_errors_are_permanent_and_5xx_retryable(srv: RecordingServer) -> None:
    srv.queue(Reply(200, {"ok": False, "error": "channel_not_found"}),
              Reply(500, "oops"), Reply(200, {"ok": False, "error": "internal_error"}))
    ch = bot(srv)
    missing, broken, internal = ch.send(MSG), ch.send(MSG), ch.send(MSG)
    assert not missing.ok and not missing.retryable and "channel_not_found" in missing.detail
    assert broken.retryable and internal.retryable


def test_connection_refused_is_retryable() -> None:
    ch = build("slack", {"token": "xoxb-t", "channel": "C1", "base_url": refused_url()})
    result = ch.send(MSG)
    assert not result.ok and result.retryable
    hook = build("slack", {"webhook_url": refused_url()}).send(MSG)
    assert not hook.ok and hook.retryable
