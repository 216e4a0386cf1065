"""Alert to page: how long from an alert's acceptance (its 202) until the notification about
its new incident reaches a local webhook receiver, at 100 and at 1,000 alerts/s (open loop,
no grouping wait). The receiver runs in this process on 127.0.0.1; each alert has a name of
its own, so each opens an incident that a routing rule sends to the receiver."""

from __future__ import annotations

import json
import math
import re
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

TARGET_P99_MS = 500.0
_NUMBER = re.compile(r"Latency alert (\d+) ")


class _Receiver:
    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps connections open, as real endpoints do

            def do_POST(self) -> None:
                now = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    title = json.loads(body).get("title", "")
                except ValueError:
                    title = ""
                m = _NUMBER.search(title)
                if m:
                    receiver.arrived.setdefault(int(m.group(1)), now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # Vigil opens many connections at once; the default listen backlog of 5
            # drops SYNs past it, which the client then resends only after 1 s.
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def _payload(first: int, count: int) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": f"Latency{n}", "severity": "critical",
                                        "service": "bench", "instance": f"i{n}"},
         "annotations": {"summary": f"Latency alert {n} is firing"}}
        for n in range(first, first + count)]}


def _drive(base: str, key: str, rate: float, seconds: float, per_request: int,
           start_number: int, receiver: _Receiver) -> dict[str, Any]:
    accepted: dict[int, float] = {}
    interval = per_request / rate
    total = int(rate * seconds)
    url = f"{base}/api/v1/ingest/alertmanager/{key}"
    with httpx.Client(timeout=10) as client:
        begin = time.perf_counter()
        for i, first in enumerate(range(start_number, start_number + total, per_request)):
            due = begin + i * interval
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            resp = client.post(url, json=_payload(first, per_request))
            done = time.perf_counter()
            if resp.status_code == 202:
                for n in range(first, first + per_request):
                    accepted[n] = done
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and len(
            [n for n in accepted if n in receiver.arrived]) < len(accepted):
        time.sleep(0.05)
    lat = sorted((receiver.arrived[n] - t) * 1000 for n, t in accepted.items()
                 if n in receiver.arrived)
    missing = len(accepted) - len(lat)

    def pct(p: float) -> float | None:
        return round(lat[max(0, math.ceil(p / 100 * len(lat)) - 1)], 1) if lat else None

    return {"rate": rate, "alerts": len(accepted), "notified": len(lat), "missing": missing,
            "p50_ms": round(statistics.median(lat), 1) if lat else None, "p99_ms": pct(99),
            "max_ms": round(lat[-1], 1) if lat else None}


def run(base: str, api_key: str, integration_key: str, seconds: float = 10.0,
        say: Any = print) -> list[dict[str, Any]]:
    receiver = _Receiver()
    receiver.thread.start()
    auth = {"Authorization": f"Bearer {api_key}"}
    try:
        httpx.post(f"{base}/api/v1/channels", headers=auth, timeout=10, json={
            "name": "bench-latency", "kind": "webhook", "rate_per_minute": 1_000_000,
            "config": {"url": receiver.url}}).raise_for_status()
        httpx.post(f"{base}/api/v1/routing-rules", headers=auth, timeout=10, json={
            "name": "bench-latency", "events": ["triggered"], "services": ["bench"],
            "channels": ["bench-latency"]}).raise_for_status()
        out = []
        number = 1
        for rate, per in ((100.0, 1), (1000.0, 10)):
            row = _drive(base, integration_key, rate, seconds, per, number, receiver)
            number += int(rate * seconds) + per
            out.append(row)
            say(f"  alert -> webhook at {rate:,.0f} alerts/s: p50 {row['p50_ms']} ms, "
                f"p99 {row['p99_ms']} ms, max {row['max_ms']} ms, "
                f"{row['notified']:,}/{row['alerts']:,} notified"
                + (f", {row['missing']} missing" if row["missing"] else ""))
        return out
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
