"""Twilio SMS and voice through the real twilio library, pointed at 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator

import pytest

from channel_servers import RecordingServer, Reply, refused_url
from vigil.notify.base import Message
from vigil.notify.channels import build
from vigil.notify.channels.twilio_sms import parse_reply, sms_text, valid_signature

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token"
MSG = Message(key="k1", event="triggered", title="Checkout latency high", text="p99 4s",
              severity="critical", incident_id=40, incident_number=4, address="+15550001111")


@pytest.fixture
def srv() -> Iterator[RecordingServer]:
    with RecordingServer() as s:
        yield s


def config(base_url: str) -> dict[str, object]:
    return {"account_sid": SID, "auth_token": TOKEN, "from_number": "+15557654321",
            "base_url": base_url, "timeout": 5}


def test_sms_reaches_the_messages_endpoint(srv: RecordingServer) -> None:
    srv.queue(Reply(201, {"sid": "SM0123", "status": "queued"}))
    result = build("sms", config(srv.url)).send(MSG)
    (req,) = srv.wait()
    assert result.ok, result.detail
    assert result.provider_id == "SM0123"
    assert req.method == "POST"
    assert req.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert req.headers["authorization"] == expected
    form = req.form
    assert form["To"] == "+15550001111" and form["From"] == "+15557654321"
    assert "#4" in form["Body"] and "Checkout latency high" in form["Body"]
    assert "Reply 4a to acknowledge, 4r to resolve" in form["Body"]


def test_sms_text_is_short() -> None:
    long = Message(key="k", event="triggered", title="x" * 1000, text="", incident_number=123)
    text = sms_text(long)
    assert len(text) <= 320 and text.endswith("Reply 123a to acknowledge, 123r to resolve")
    resolved = sms_text(Message(key="k", event="resolved", title="ok", text="",
                                incident_number=5))
    assert "Reply" not in resolved


def test_voice_call_says_the_title(srv: RecordingServer) -> None:
    srv.queue(Reply(201, {"sid": "CA0456", "status": "queued"}))
    result = build("voice", config(srv.url)).send(MSG)
    (req,) = srv.wait()
    assert result.ok and result.provider_id == "CA0456"
    assert req.path == f"/2010-04-01/Accounts/{SID}/Calls.json"
    form = req.form
    assert form["To"] == "+15550001111" and form["From"] == "+15557654321"
    assert form["Twiml"].startswith("<?xml")
    assert "<Say loop=\"2\">" in form["Twiml"] and "Checkout latency high" in form["Twiml"]


def test_errors(srv: RecordingServer) -> None:
    srv.queue(Reply(400, {"code": 21211, "message": "The 'To' number is not a valid phone "
                          "number.", "status": 400}),
              Reply(429, {"code": 20429, "message": "Too Many Requests", "status": 429},
                    {"Retry-After": "9"}),
              Reply(503, "unavailable"))
    ch = build("sms", config(srv.url))
    bad, limited, down = ch.send(MSG), ch.send(MSG), ch.send(MSG)
    assert not bad.ok and not bad.retryable
    assert "21211" in bad.detail and "not a valid phone number" in bad.detail
    assert limited.retryable and limited.retry_after == 9
    assert down.retryable


def test_bad_recipient_and_connection_refused() -> None:
    ch = build("sms", config(refused_url()))
    bad = ch.send(Message(key="k", event="test", title="t", text="", address="555-1234"))
    assert not bad.ok and not bad.retryable
    refused = ch.send(MSG)
    assert not refused.ok and refused.retryable


@pytest.mark.parametrize(("body", "expected"), [
    ("12a", (12, "acknowledge")),
    ("12A", (12, "acknowledge")),
    (" 12 a ", (12, "acknowledge")),
    ("#7r", (7, "resolve")),
    ("12r", (12, "resolve")),
    ("12c", (12, "close")),
    ("3r.", (3, "resolve")),
    ("a12", None),
    ("12", None),
    ("12x", None),
    ("12ack", None),
    ("", None),
    ("hello", None),
])
def test_parse_reply(body: str, expected: tuple[int, str] | None) -> None:
    assert parse_reply(body) == expected


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's documented scheme: base64(HMAC-SHA1(url + sorted key+value pairs))."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
                            ).decode()


def test_valid_signature() -> None:
    url = "https://vigil.example/api/v1/twilio/sms"
    params = {"From": "+15550001111", "Body": "4a", "MessageSid": "SM1"}
    sig = twilio_signature(TOKEN, url, params)
    assert valid_signature(TOKEN, url, params, sig)
    assert not valid_signature(TOKEN, url, {**params, "Body": "4r"}, sig)
    assert not valid_signature("other-token", url, params, sig)
    assert not valid_signature(TOKEN, url + "x", params, sig)
    assert not valid_signature(TOKEN, url, params, "")
