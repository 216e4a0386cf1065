"""Apprise: a json:// URL posting to a recording server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channel_servers import RecordingServer, Reply, free_port
from vigil.errors import InvalidInput
from vigil.notify.base import Message
from vigil.notify.channels import build

# apprise's PGP helper imports the stdlib imghdr module, deprecated in 3.11
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

MSG = Message(key="k", event="triggered", title="Queue backlog", text="12k jobs waiting",
              severity="critical", incident_number=3)


@pytest.fixture
def srv() -> Iterator[RecordingServer]:
    with RecordingServer() as s:
        yield s


def test_json_url_posts_title_and_body(srv: RecordingServer) -> None:
    ch = build("apprise", {"url": f"json://127.0.0.1:{srv.port}/notify"})
    result = ch.send(MSG)
    (req,) = srv.wait()
    assert result.ok, result.detail
    assert req.method == "POST" and req.path == "/notify"
    body = req.json
    assert body["title"] == "Queue backlog"
    assert body["message"] == "12k jobs waiting"
    assert body["type"] == "failure"  # critical


def test_failure_is_retryable_with_detail(srv: RecordingServer) -> None:
    srv.queue(Reply(500, "broken"))
    result = build("apprise", {"url": f"json://127.0.0.1:{srv.port}/"}).send(MSG)
    assert not result.ok and result.retryable
    assert "500" in result.detail


def test_unreachable_is_retryable() -> None:
    result = build("apprise", {"url": f"json://127.0.0.1:{free_port()}/"}).send(MSG)
    assert not result.ok and result.retryable and result.detail


@pytest.mark.parametrize("url", ["nosuchscheme://host/path", "not a url", "json://"])
def test_invalid_url_is_rejected_at_config_time(url: str) -> None:
    with pytest.raises(InvalidInput) as err:
        build("apprise", {"url": url})
    assert err.value.field == "config.url"
    assert err.value.status_code == 422
