"""The SMTP adapter against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from channel_servers import SmtpSink, free_port, self_signed, server_tls
from vigil.notify.base import Message
from vigil.notify.channels import build
from vigil.notify.channels.email import EmailChannel, message_id

MSG = Message(key="inc-7:triggered:1", event="triggered", title="DB down on db-1",
              text="Postgres is not answering.", html="<p>Postgres is <b>not</b> answering</p>",
              severity="critical", incident_id=7, incident_number=7,
              address="oncall@example.org")


def channel(port: int, **extra: Any) -> EmailChannel:
    config = {"smtp_host": "127.0.0.1", "smtp_port": port, "security": "none",
              "from_address": "Vigil <vigil@example.com>", "timeout": 5, **extra}
    ch = build("email", config)
    assert isinstance(ch, EmailChannel)
    return ch


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    try:
        return self_signed(tmp_path)
    except ImportError:
        pytest.skip("cryptography is not installed")


def test_plain_delivery_is_multipart_with_stable_message_id() -> None:
    with SmtpSink() as sink:
        result = channel(sink.port).send(MSG)
        mail = sink.wait()
    assert result.ok, result.detail
    assert mail.mail_from == "vigil@example.com"
    assert mail.rcpt_tos == ["oncall@example.org"]
    msg = mail.message
    assert msg["Subject"] == "DB down on db-1"
    assert msg["X-Vigil-Key"] == "inc-7:triggered:1"
    assert msg["X-Vigil-Event"] == "triggered"
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    assert "Postgres is not answering." in parts["text/plain"]
    assert "<b>not</b>" in parts["text/html"]
    assert msg["Message-ID"] == message_id(MSG.key, "vigil@example.com")
    assert msg["Message-ID"].endswith("@example.com>")
    assert result.provider_id == msg["Message-ID"]
    # the same key gives the same id; another key another
    assert message_id(MSG.key, "x@example.com") == message_id(MSG.key, "x@example.com")
    assert message_id("other", "x@example.com") != message_id(MSG.key, "x@example.com")


def test_thread_sets_in_reply_to_and_html_falls_back_to_text() -> None:
    msg = Message(key="k2", event="resolved", title="Resolved\nnow", text="all <good>",
                  address="a@example.org", thread="<vigil.abc@example.com>")
    with SmtpSink() as sink:
        assert channel(sink.port).send(msg).ok
        got = sink.wait().message
    assert got["Subject"] == "Resolved now"
    assert got["In-Reply-To"] == "<vigil.abc@example.com>"
    html = next(p for p in got.iter_parts() if p.get_content_type() == "text/html")
    assert "all &lt;good&gt;" in html.get_content()


def test_smtp_4xx_is_retryable_and_5xx_permanent() -> None:
    with SmtpSink() as sink:
        sink.data_replies.append("451 4.3.0 Try again later")
        temp = channel(sink.port).send(MSG)
        sink.rcpt_replies.append("550 5.1.1 No such user here")
        perm = channel(sink.port).send(MSG)
    assert not temp.ok and temp.retryable
    assert "451" in temp.detail and "Try again later" in temp.detail
    assert not perm.ok and not perm.retryable
    assert "550" in perm.detail and "No such user" in perm.detail


def test_connection_refused_is_retryable() -> None:
    result = channel(free_port()).send(MSG)
    assert not result.ok and result.retryable
    assert "connection" in result.detail


def test_bad_recipient_is_permanent_without_connecting() -> None:
    result = channel(free_port()).send(Message(key="k", event="test", title="t", text="x",
                                               address="not an address"))
    assert not result.ok and not result.retryable


def test_starttls_with_login(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    with SmtpSink(starttls=server_tls(cert, key), users={"bot": "s3cret"}) as sink:
        ok = channel(sink.port, security="starttls", ca_file=str(cert), username="bot",
                     password="s3cret").send(MSG)
        mail = sink.wait()
        bad_login = channel(sink.port, security="starttls", ca_file=str(cert),
                            username="bot", password="wrong").send(MSG)
        untrusted = channel(sink.port, security="starttls").send(MSG)
    assert ok.ok, ok.detail
    assert mail.login == "bot" and mail.tls
    assert not bad_login.ok and not bad_login.retryable and "535" in bad_login.detail
    assert not untrusted.ok and not untrusted.retryable
    assert "certificate" in untrusted.detail


def test_implicit_tls(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    with SmtpSink(implicit_tls=server_tls(cert, key)) as sink:
        result = channel(sink.port, security="tls", ca_file=str(cert)).send(MSG)
        mail = sink.wait()
    assert result.ok, result.detail
    assert mail.message["X-Vigil-Key"] == MSG.key


def test_starttls_refused_by_plain_server() -> None:
    with SmtpSink() as sink:
        result = channel(sink.port, security="starttls").send(MSG)
    assert not result.ok and not result.retryable
