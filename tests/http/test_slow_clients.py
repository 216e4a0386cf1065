"""A client that sends a request slowly, or half of one, loses its connection: the real
``vigil serve`` closes it once the read deadline passes, and keeps serving everyone else."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from server import Server, start_server

#: The server's read deadline in these tests, and how long a test waits for the close:
#: without the deadline the server never closes, and ``recv`` times out instead.
DEADLINE = 1.0
WAIT = 20.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("slow")
    srv = start_server(f"sqlite:///{workdir / 'vigil.db'}", workdir,
                       env={"VIGIL_HTTP_READ_TIMEOUT_SECONDS": str(DEADLINE)})
    yield srv
    srv.kill()


def _connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    return sock


def _closed_by_server(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    got = b""
    while chunk := sock.recv(4096):
        got += chunk
    return got


@pytest.mark.parametrize("sent", [
    b"",  # connects and says nothing
    b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never finish
    b"POST /api/v1/ingest/generic/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":",  # body stalls
], ids=["silent", "partial-headers", "partial-body"])
def test_a_partial_request_is_closed_after_the_deadline(server: Server, sent: bytes) -> None:
    with _connect(server) as sock:
        sock.sendall(sent)
        try:
            answer = _closed_by_server(sock)
        except TimeoutError:
            pytest.fail(f"the server kept a partial request open for {WAIT} s")
    assert b"200 OK" not in answer
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200


def test_a_whole_request_on_a_kept_alive_connection_is_answered(server: Server) -> None:
    with httpx.Client(timeout=5) as client:
        for _ in range(3):
            assert client.get(f"{server.url}/health").status_code == 200
