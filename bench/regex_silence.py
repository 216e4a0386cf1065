"""(rx) Ingest with a pathological regular-expression silence in place, against without.

The silence is ``alertname=~"(a+)+$"``, and every alert is named 26 to 75 ``a``s and a
``b``: for a backtracking engine (Python's ``re``) each match costs 2^26 steps and more,
enough to stall the whole process for seconds per alert; RE2 matches in linear time. The
silence matches none of these alerts, so both sides do the same work but the regex.

A/B in the same server, alternating (off, on, on, off, off, on: drift and the growing
database weigh on both sides alike), each phase a closed loop of Alertmanager webhooks of
``BENCH_BATCH`` alerts for 6 s (times BENCH_SECONDS), prebuilt while the server idles.
Reports each side's durable alerts/s and the ratio, against the target: with the silence
at least 90% of without. Before the timed phases, one webhook checks the silence really
is in force (an alert named only ``a``s is suppressed, one ending in ``b`` is created).
"""

from __future__ import annotations

import math
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from bench.loadgen import LoadResult, Req

KEY = "rx"
EVIL = "(a+)+$"
TARGET_RATIO = 0.90
PHASE_SECONDS = 6.0
ORDER = (False, True, True, False, False, True)  # silence in place?

_ALERT = (
    '{{"status":"firing","labels":{{"alertname":"{name}","instance":"rx-{n}.bench.internal",'
    '"job":"node","severity":"warning","service":"svc-{svc}"}},'
    '"annotations":{{"summary":"Bench regex alert {n}"}},'
    '"startsAt":"2026-11-22T10:00:00Z","endsAt":"0001-01-01T00:00:00Z"}}'
)
_HEAD = ('{"version":"4","groupKey":"{}:{}","status":"firing","receiver":"vigil",'
         '"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"alerts":[')


class _Server(Protocol):
    host: str
    port: int
    alertmanager_key: str

    @property
    def base_url(self) -> str: ...

    def api(self, method: str, path: str, body: Any = None) -> Any: ...

    def count_alerts(self) -> int: ...


class _Config(Protocol):
    scale: float
    batch_size: int
    batch_connections: int
    batch_rate_cap: int


class _Bench(Protocol):
    cfg: _Config
    server: _Server
    rows: list[dict[str, Any]]
    extra: dict[str, Any]

    def closed(self, reqs: list[Req], connections: int, seconds: float | None) -> LoadResult:
        ...

    def measured(self, key: str, title: str, run: Callable[[], LoadResult],
                 seconds: float) -> LoadResult: ...


def _name(n: int) -> str:
    return "a" * (26 + n % 50) + "b"


class _Builder:
    def __init__(self, server: _Server, per_request: int) -> None:
        self.path = f"/api/v1/ingest/alertmanager/{server.alertmanager_key}"
        self.host = f"{server.host}:{server.port}"
        self.per_request = per_request
        self.next_id = 1

    def requests(self, count: int) -> list[Req]:
        out = []
        for _ in range(count):
            first, self.next_id = self.next_id, self.next_id + self.per_request
            body = (_HEAD + ",".join(_ALERT.format(name=_name(n), n=n, svc=n % 40)
                                     for n in range(first, self.next_id)) + "]}").encode()
            head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                    f"User-Agent: vigil-bench\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            out.append(Req(head + body, self.per_request))
        orjson.loads(out[0].data.split(b"\r\n\r\n", 1)[1])
        return out


def _check_in_force(server: _Server) -> list[str]:
    """Outcomes of one webhook: an alert the silence matches, then one it does not."""
    alerts = [_ALERT.format(name="a" * 26, n="check-0", svc=0),
              _ALERT.format(name="a" * 26 + "b", n="check-1", svc=0)]
    req = urllib.request.Request(
        f"{server.base_url}/api/v1/ingest/alertmanager/{server.alertmanager_key}",
        data=(_HEAD + ",".join(alerts) + "]}").encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return [a["outcome"] for a in orjson.loads(resp.read())["alerts"]]


def run(bench: _Bench, say: Callable[[str], None]) -> None:
    """Runs the phases, records one table row per phase and ``extra["rx"]``."""
    cfg, server = bench.cfg, bench.server
    secs = PHASE_SECONDS * cfg.scale
    n = math.ceil(cfg.batch_rate_cap * secs / cfg.batch_size)
    build = _Builder(server, cfg.batch_size)
    say(f"(rx) silence alertname=~\"{EVIL}\" against alerts named 26-75 a's and a b: "
        f"{len(ORDER)} alternating phases of {secs:.0f} s, {cfg.batch_connections} "
        "connections")
    silence_id: int | None = None
    totals = {False: [0, 0.0, 0.0], True: [0, 0.0, 0.0]}  # alerts, seconds, server CPU us
    check: list[str] = []
    for i, on in enumerate(ORDER, 1):
        if on and silence_id is None:
            silence_id = server.api("POST", "/api/v1/silences", {
                "matchers": [f'alertname=~"{EVIL}"'], "duration_minutes": 600,
                "comment": "bench: pathological regex"})["id"]
            if not check:
                check = _check_in_force(server)
                say(f"  silence in force: outcomes {check} (expected "
                    "['suppressed', 'created'])")
        elif not on and silence_id is not None:
            server.api("DELETE", f"/api/v1/silences/{silence_id}")
            silence_id = None
        reqs = build.requests(n)
        side = "with" if on else "without"
        res = bench.measured(f"{KEY}-{'on' if on else 'off'}",
                             f"(rx) {side} regex silence #{i}",
                             lambda reqs=reqs: bench.closed(reqs, cfg.batch_connections, secs),
                             secs)
        row = bench.rows[-1]
        totals[on][0] += min(res.accepted_alerts, row["committed"])
        totals[on][1] += res.elapsed_s
        totals[on][2] += (row["server"]["cpu_us_per_alert"] or 0) * res.accepted_alerts
    if silence_id is not None:
        server.api("DELETE", f"/api/v1/silences/{silence_id}")
    off = totals[False][0] / totals[False][1] if totals[False][1] else 0.0
    on_rate = totals[True][0] / totals[True][1] if totals[True][1] else 0.0
    ratio = on_rate / off if off else 0.0
    cpu = {on: round(totals[on][2] / totals[on][0]) if totals[on][0] else None
           for on in (False, True)}
    bench.extra[KEY] = {"without_alerts_per_s": round(off), "with_alerts_per_s": round(on_rate),
                        "ratio": round(ratio, 3), "silence": f'alertname=~"{EVIL}"',
                        "server_cpu_us_per_alert": {"without": cpu[False], "with": cpu[True]},
                        "check_outcomes": check, "phase_seconds": secs}
    say(f"  (rx) without the silence {off:,.0f} alerts/s, with it {on_rate:,.0f} alerts/s: "
        f"ratio {ratio:.3f} (target >= {TARGET_RATIO:.2f}); server CPU per alert "
        f"{cpu[False]} us without, {cpu[True]} us with")


def target(extra: dict[str, Any]) -> tuple[str, str, bool, str] | None:
    """(target, measured, ok, note) for the verdict table, if (rx) ran."""
    rx = extra.get(KEY)
    if not rx:
        return None
    ok_check = rx["check_outcomes"] == ["suppressed", "created"]
    return (f"(rx) ingest with a pathological regex silence >= {TARGET_RATIO:.0%} of without",
            f"{rx['with_alerts_per_s']:,} vs {rx['without_alerts_per_s']:,} alerts/s "
            f"(ratio {rx['ratio']:.3f})",
            rx["ratio"] >= TARGET_RATIO and ok_check,
            "" if ok_check else f"silence not in force: {rx['check_outcomes']}")
