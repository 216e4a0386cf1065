"""Vigil killed (SIGKILL) in the middle of delivering, on both databases.

A notifier pass runs in a child process over the test's database. The receivers kill that
process while it is sending: one after the first request arrives (the rest are in flight
or not yet sent), one once every request has arrived but before any answer (nothing is
recorded). Vigil then runs on, here, with the same clock: nothing is lost, the
sends that never finished go out again when their lease ends, with the same key
(``X-Vigil-Key``, the email's ``Message-ID``), so a receiver that deduplicates by it sees
each page exactly once, and one that does not sees it at least once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from channel_sinks import Sink, channel
from conftest import Harness
from incident_api import alert, am
from vigil.notify.delivery import LEASE
from vigil.notify.models import Delivery
from vigil.worker.notifier import run_once

ALERTS = 6

#: One notifier pass in a child process, at the test's (fake) time.
CHILD = """
import sys
from datetime import datetime
from vigil.app import create_app
from vigil.clock import FakeClock
from vigil.config import Settings
from vigil.worker.notifier import run_once

app = create_app(Settings(database_url=sys.argv[1]),
                 clock=FakeClock(datetime.fromisoformat(sys.argv[2])),
                 run_background_jobs=False)
run_once(app.state.ctx)
print("pass finished", flush=True)
"""


@dataclass
class KillingReceiver:
    """A webhook receiver that SIGKILLs ``victim`` when its ``kill_at``-th request arrives,
    before answering it; requests that arrive while the victim is alive are held until
    it is dead, so none is recorded as sent by it."""

    kill_at: int
    keys: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    victim: subprocess.Popen[bytes] | None = None
    killed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def arrived(self, key: str, title: str) -> None:
        with self.lock:
            self.keys.append(key)
            self.titles.setdefault(key, title)
            due = len(self.keys) >= self.kill_at and not self.killed.is_set()
            if due and self.victim is not None and self.victim.poll() is None:
                self.victim.send_signal(signal.SIGKILL)
                self.victim.wait(timeout=30)
                self.killed.set()


@pytest.fixture
def killing_receiver(request: pytest.FixtureRequest) -> Iterator[KillingReceiver]:
    rec = KillingReceiver(kill_at=request.param)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            rec.arrived(self.headers["X-Vigil-Key"], body["title"])
            if rec.victim is not None and rec.victim.poll() is None:
                rec.killed.wait(timeout=60)  # hold the answer until the sender is dead
            try:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the sender died with the connection open
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield rec
    finally:
        rec.killed.set()
        server.shutdown()
        server.server_close()


def statuses(h: Harness) -> Counter[tuple[str, str]]:
    with h.ctx.db.read() as s:
        return Counter((d.channel_kind, d.status) for d in s.scalars(select(Delivery)))


@pytest.mark.parametrize("killing_receiver", [1, ALERTS], indirect=True,
                         ids=["after-first-request", "after-every-request"])
def test_killed_mid_delivery_every_page_arrives_once_per_key(
        vigil: Harness, db_url: str, killing_receiver: KillingReceiver,
        smtp: tuple[Sink, int]) -> None:
    rec = killing_receiver
    sink, smtp_port = smtp
    channel(vigil, name="hook", kind="webhook", rate_per_minute=1000,
            config={"url": f"http://127.0.0.1:{rec.port}/hook"})
    channel(vigil, name="mail", kind="email", rate_per_minute=1000,
            config={"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "security": "none",
                    "from_address": "vigil@example.com"})
    resp = vigil.client.post("/api/v1/routing-rules", headers=vigil.auth, json={
        "name": "everything", "channels": ["hook", "mail"], "address": "ops@example.com"})
    assert resp.status_code == 201, resp.text
    # Each alert opens an incident, announced by webhook and by email.
    for n in range(ALERTS):
        assert vigil.post_alertmanager(am(alert(f"Crash{n}", severity="critical"))) \
            .status_code == 202
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url,
                              vigil.clock.now().isoformat()], env=dict(os.environ),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    rec.victim = child
    out, _ = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, out.decode()
    assert b"pass finished" not in out
    assert len(rec.keys) >= 1
    # Killed before recording: nothing it sent is marked sent.
    assert statuses(vigil)[("webhook", "sent")] == 0
    # While the dead pass's lease holds, nobody sends those rows again...
    done = run_once(vigil.ctx).counts
    assert (done["sent"], done["failed"]) == (0, 0)
    # ...and once it ends, every one goes out, with the key it had before.
    vigil.clock.advance(seconds=LEASE.total_seconds() + 1)
    run_once(vigil.ctx)
    assert statuses(vigil) == Counter({("webhook", "sent"): ALERTS, ("email", "sent"): ALERTS})
    unique = set(rec.keys)
    assert len(unique) == ALERTS  # a receiver that deduplicates by key sees each once
    assert len(set(rec.titles.values())) == ALERTS  # one page per incident
    # Email: the Message-ID is the delivery's key, so the mailbox can drop repeats.
    ids = Counter(m["Message-ID"] for m in sink.messages)
    assert len(ids) == ALERTS
    # Nothing more, ever: another pass much later sends nothing.
    vigil.clock.advance(hours=1)
    run_once(vigil.ctx)
    assert set(rec.keys) == unique and len(Counter(m["Message-ID"] for m in sink.messages)) \
        == ALERTS
