"""Scenario (c): fill the database to BENCH_ALERTS alerts, then time the alert and
incident lists and the main web pages at that size."""

from __future__ import annotations

import math
import statistics
import time
from typing import TYPE_CHECKING, Any

from bench import loadgen
from bench.config import say
from bench.loadgen import LoadResult
from bench.rows import merge, scenario_row
from bench.server import Window, mb

if TYPE_CHECKING:
    from bench.harness import Bench


def run(bench: Bench) -> None:
    """(c): fill the database to BENCH_ALERTS alerts, then time the lists and pages."""
    cfg = bench.cfg
    target = cfg.alerts_target
    current = start_count = bench.server.count_alerts()
    say(f"(c) filling the database from {current:,} to {target:,} alerts "
        f"in rounds of <= {cfg.round_alerts:,} (each prebuilt while the server idles)")
    total = LoadResult("closed", cfg.batch_connections, 0)
    cpu = secs = client = machine = 0.0
    peak = 0
    rounds: list[dict[str, Any]] = []
    started = time.perf_counter()
    while current < target:
        n = math.ceil(min(cfg.round_alerts, target - current) / cfg.batch_size)
        reqs = bench.payloads.alertmanager(bench.server.alertmanager_key, n, cfg.batch_size,
                                           names=cfg.incident_groups)
        bench.sampler.begin()
        res = bench.closed(reqs, cfg.batch_connections, None)
        window = bench.sampler.end()
        del reqs
        current = bench.server.count_alerts()
        merge(total, res)
        cpu += window.cpu_s
        secs += window.seconds
        client += window.client_cpu_s
        machine += window.machine_cpu_s
        peak = max(peak, window.peak_rss)
        rounds.append({"alerts_after": current, "alerts_per_s": round(res.alerts_per_s),
                       "p99_ms": res.percentile_ms(99), "rss_mb": mb(window.end_rss)})
        say(f"  {current:>10,} alerts: {res.alerts_per_s:,.0f} alerts/s this round, "
            f"p99 {res.percentile_ms(99) or 0:.0f} ms, server RSS {mb(window.end_rss):.0f} MB")
        if res.accepted_alerts == 0:
            say("  no alert accepted in a whole round; giving up on (c)")
            break
    fill_s = time.perf_counter() - started
    if not rounds:
        say(f"  the database already holds {current:,} alerts (BENCH_ALERTS={target:,})")
    time.sleep(2)  # let the writer and the allocator settle
    rss_after_ingest = bench.sampler.sample()
    committed = current - start_count
    window = Window(peak, rss_after_ingest, cpu, secs, client, machine)
    if rounds:
        row = scenario_row("c", f"(c) fill to {target:,}", total, committed, window)
        bench.rows.append(row)
        bench.progress(row)

    # The alert list at that size (first call reported apart: cold caches).
    get = bench.payloads.get("/api/v1/alerts?limit=50", bench.server.admin_key)
    host, port = bench.server.host, bench.server.port
    calls = loadgen.run(lambda: loadgen.timed_requests(host, port, get, 21))
    bad = [s for s, _ in calls if s != 200]
    times = [ms for _, ms in calls[1:]]
    incident_calls = {}
    for path in ("/api/v1/incidents?limit=50", "/api/v1/incidents?limit=50&status=firing",
                 "/api/v1/incidents?limit=50&sort=-severity", "/api/v1/incidents/counts"):
        req = bench.payloads.get(path, bench.server.admin_key)
        timed = loadgen.run(lambda req=req: loadgen.timed_requests(host, port, req, 41))
        ms = sorted(t for _, t in timed[1:])
        incident_calls[path] = {
            "p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[math.ceil(0.95 * len(ms)) - 1], 2),
            "non_200": sum(1 for st, _ in timed if st != 200)}
    incidents = bench.server.count_incidents()
    # The fill leaves ~100,000 incident.created events for the engine and the notifier;
    # the pages are timed once they are consumed (at most 3 minutes' wait), as a
    # responder would meet them, not while the process works off a fill's backlog.
    waited = time.perf_counter()
    while bench.server.outbox_backlog() and time.perf_counter() - waited < 180:
        time.sleep(1)
    backlog = bench.server.outbox_backlog()
    say(f"  web pages timed after {time.perf_counter() - waited:.0f} s waiting for the "
        f"outbox backlog to be consumed ({backlog:,} events left)")
    ui_calls = _ui_pages(bench, host, port)
    rss_after_queries = bench.sampler.sample()
    bench.extra["c_incidents"] = {"incidents": incidents, "calls": incident_calls}
    bench.extra["c_ui"] = {"incidents": incidents, "calls": ui_calls}
    for path, figures in {**incident_calls, **ui_calls}.items():
        say(f"  GET {path} at {incidents:,} incidents: p50 {figures['p50_ms']:.1f} ms, "
            f"p95 {figures['p95_ms']:.1f} ms")
    bench.extra["c"] = {
        "alerts_stored": current,
        "fill_wall_s": round(fill_s, 1),
        "rounds": rounds,
        "rss_after_ingest_mb": mb(rss_after_ingest),
        "rss_after_queries_mb": mb(rss_after_queries),
        "peak_rss_mb": mb(peak or rss_after_ingest),
        "db_mb": mb(bench.server.db_bytes()),
        "list_first_call_ms": round(calls[0][1], 2),
        "list_median_ms": round(statistics.median(times), 2),
        "list_p90_ms": round(sorted(times)[math.ceil(0.9 * len(times)) - 1], 2),
        "list_non_200": len(bad),
    }
    say(f"  GET /api/v1/alerts?limit=50 at {current:,} alerts: median "
        f"{statistics.median(times):.1f} ms (first call {calls[0][1]:.1f} ms); "
        f"RSS {mb(rss_after_ingest):.0f} MB after ingest, {mb(rss_after_queries):.0f} MB "
        f"after queries; database {mb(bench.server.db_bytes()):,.0f} MB")

def _ui_pages(bench: Bench, host: str, port: int) -> dict[str, dict[str, Any]]:
    """Server time of the main web pages at this size (signed in as the first admin,
    made through /setup): p50/p95 of 20 calls each after a first, cold one."""
    import urllib.parse
    import urllib.request

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # keep the 303 and its Set-Cookie

    form = urllib.parse.urlencode({"username": "bench", "name": "Bench",
                                   "email": "bench@example.com",
                                   "password": "bench-password-1"}).encode()
    opener = urllib.request.build_opener(Keep)
    try:
        opener.open(f"{bench.server.base_url}/setup", data=form, timeout=30)
        return {}
    except urllib.error.HTTPError as redirect:
        cookie = (redirect.headers.get("Set-Cookie") or "").split(";")[0]
    if not cookie:
        say("  (web pages not measured: /setup gave no session cookie)")
        return {}
    first = bench.server.first_incident_id()
    out: dict[str, dict[str, Any]] = {}
    pages = ["/ui", "/ui/incidents", "/ui/incidents?status=firing&sort=-severity",
             "/ui/alerts"] + ([f"/ui/incidents/{first}"] if first else [])
    for path in pages:
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"User-Agent: vigil-bench\r\nCookie: {cookie}\r\n\r\n").encode()
        timed = loadgen.run(lambda req=req: loadgen.timed_requests(host, port, req, 21))
        ms = sorted(t for _, t in timed[1:])
        out[path] = {"p50_ms": round(statistics.median(ms), 2),
                     "p95_ms": round(ms[math.ceil(0.95 * len(ms)) - 1], 2),
                     "non_200": sum(1 for st, _ in timed if st != 200)}
    return out
