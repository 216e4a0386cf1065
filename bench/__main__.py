"""``python -m bench``: start Vigil, run the ingest scenarios, print and save the figures.

Scenarios (one server, one fresh SQLite database, in this order; times at BENCH_SECONDS=1):

  (a)  webhooks of 100 new alerts each, closed loop, 16 connections, 20 s  -> alerts/s
  (b1) one new alert per request, closed loop, 64 connections, 15 s        -> requests/s
  (b2) one new alert per request, open loop at 750 req/s (BENCH_B2_RATE), 15 s -> p50/p99
  (r1) webhooks of 100 alerts across 1,000 groups, one correlation rule   -> alerts/s
  (r50) the same with 50 rules (each alert matches one, by its team label) -> alerts/s
  (rx) webhooks of 100 with and without a silence alertname=~"(a+)+$", alerts named 26+
       a's and a b, alternating 6 s phases -> alerts/s each side and the ratio (>= 0.9)
  (c)  webhooks of 100 until the database holds BENCH_ALERTS alerts, alert names cycling
       over BENCH_INCIDENT_GROUPS (100,000) so the default rule opens that many incidents
       -> server RSS, then GET /api/v1/alerts?limit=50 (median of 20 calls) and
       GET /api/v1/incidents?limit=50 (p95 of 40 calls, and filtered by status), and the
       main web pages signed in (p95 of 20 calls each; target < 100 ms)
  (n)  alert accepted -> notification at a local webhook receiver, p50/p99 at 100 and
       1,000 alerts/s (open loop; last, since a notifier that falls behind loads the rest)

(c) takes as long as the server needs to store the rest of the alerts: at ~4,000 alerts/s
the whole default run is about 5-6 minutes. BENCH_ALERTS=200000 makes it quick.

Knobs (environment): BENCH_SECONDS (duration scale, default 1.0), BENCH_ALERTS (default
1000000), BENCH_SCENARIOS (default "a,b1,b2,r1,r50,rx,c,n"), BENCH_BATCH (alerts per webhook, 100),
BENCH_BATCH_CONNECTIONS (16), BENCH_SINGLE_CONNECTIONS (64), BENCH_OPEN_CONNECTIONS (64),
BENCH_SINGLE_KIND (alertmanager | generic), BENCH_B2_RATE (fixed open-loop rate),
BENCH_INCIDENT_GROUPS (distinct alert names in (c), 100000),
BENCH_PROFILE=1 (py-spy the server during a and b1), BENCH_KEEP=1 (keep the temp dir),
BENCH_SERVER_LOG=FILE (append all of the server's output to FILE),
BENCH_VIGIL (the vigil executable).
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import loadgen, regex_silence, report
from bench.loadgen import LoadResult, Req
from bench.payloads import Payloads
from bench.profile import Profiler, find_pyspy
from bench.server import Sampler, VigilServer, Window, mb

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results" / "latest.json"

TARGET_BATCH_ALERTS_S = 10_000
TARGET_SINGLE_REQ_S = 1_500
TARGET_P99_MS = 100.0
TARGET_HALF_LOAD_RATE = 750.0
TARGET_RSS_MB = 300.0
TARGET_ALERTS = 1_000_000
TARGET_RULES_ALERTS_S = 8_000
TARGET_INCIDENT_LIST_P95_MS = 50.0
TARGET_PAGE_MS = 100.0
RULE_GROUPS = 1_000
#: Other processes busier than this during a scenario make its figures suspect.
NOISY_OTHER_CORES = 0.25


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"{name} must be > 0")
    return value


def _env_int(name: str, default: int) -> int:
    return int(_env_float(name, default))


@dataclass(frozen=True)
class Config:
    scale: float
    alerts_target: int
    scenarios: tuple[str, ...]
    batch_size: int
    batch_connections: int
    single_connections: int
    open_connections: int
    single_kind: str
    b2_rate: float | None
    profile: bool
    keep: bool
    vigil_bin: Path
    #: Prebuilt-request budget: the most alerts/s (a) and requests/s (b1) can consume.
    batch_rate_cap: int
    single_rate_cap: int
    round_alerts: int
    incident_groups: int

    @property
    def a_seconds(self) -> float:
        return 20 * self.scale

    @property
    def b_seconds(self) -> float:
        return 15 * self.scale

    @property
    def warmup_seconds(self) -> float:
        return max(0.5, 2 * self.scale)

    @classmethod
    def from_env(cls) -> Config:
        scenarios = tuple(s.strip() for s in os.environ.get("BENCH_SCENARIOS",
                                                            "a,b1,b2,r1,r50,rx,c,n")
                          .split(",") if s.strip())
        unknown = set(scenarios) - {"a", "b1", "b2", "n", "r1", "r50", "rx", "c"}
        if unknown:
            raise SystemExit(f"BENCH_SCENARIOS: unknown {', '.join(sorted(unknown))}; "
                             "use a, b1, b2, n, r1, r50, rx, c")
        kind = os.environ.get("BENCH_SINGLE_KIND", "alertmanager")
        if kind not in ("alertmanager", "generic"):
            raise SystemExit("BENCH_SINGLE_KIND must be alertmanager or generic")
        default_bin = Path(sys.executable).parent / "vigil"
        vigil_bin = Path(os.environ.get("BENCH_VIGIL", "") or default_bin)
        if not vigil_bin.exists():
            found = shutil.which("vigil")
            if not found:
                raise SystemExit(f"no vigil executable at {vigil_bin}; set BENCH_VIGIL")
            vigil_bin = Path(found)
        b2 = os.environ.get("BENCH_B2_RATE", "").strip()
        return cls(
            scale=_env_float("BENCH_SECONDS", 1.0),
            alerts_target=_env_int("BENCH_ALERTS", TARGET_ALERTS),
            scenarios=scenarios,
            batch_size=_env_int("BENCH_BATCH", 100),
            batch_connections=_env_int("BENCH_BATCH_CONNECTIONS", 16),
            single_connections=_env_int("BENCH_SINGLE_CONNECTIONS", 64),
            open_connections=_env_int("BENCH_OPEN_CONNECTIONS", 64),
            single_kind=kind,
            b2_rate=_env_float("BENCH_B2_RATE", 1.0) if b2 else None,
            profile=os.environ.get("BENCH_PROFILE", "") in ("1", "true", "yes"),
            keep=os.environ.get("BENCH_KEEP", "") in ("1", "true", "yes"),
            vigil_bin=vigil_bin,
            batch_rate_cap=_env_int("BENCH_BATCH_RATE_CAP", 20_000),
            single_rate_cap=_env_int("BENCH_SINGLE_RATE_CAP", 6_000),
            round_alerts=_env_int("BENCH_ROUND_ALERTS", 100_000),
            incident_groups=_env_int("BENCH_INCIDENT_GROUPS", 100_000),
        )


def say(msg: str) -> None:
    print(msg, flush=True)


class Bench:
    def __init__(self, cfg: Config, server: VigilServer, sampler: Sampler) -> None:
        self.cfg = cfg
        self.server = server
        self.sampler = sampler
        self.payloads = Payloads(server.host, server.port)
        self.single_key = server.alertmanager_key
        if cfg.single_kind == "generic":
            self.single_key = server.create_integration("generic", "bench generic")
        self.rows: list[dict[str, Any]] = []
        self.profiles: dict[str, dict[str, Any]] = {}
        self.extra: dict[str, Any] = {}

    # -- building blocks --------------------------------------------------------------------

    def batches(self, requests: int) -> list[Req]:
        return self.payloads.alertmanager(self.server.alertmanager_key, requests,
                                          self.cfg.batch_size)

    def singles(self, requests: int) -> list[Req]:
        if self.cfg.single_kind == "generic":
            return self.payloads.generic(self.single_key, requests)
        return self.payloads.alertmanager(self.single_key, requests, 1)

    def closed(self, reqs: list[Req], connections: int, seconds: float | None) -> LoadResult:
        host, port = self.server.host, self.server.port
        return loadgen.run(lambda: loadgen.closed_loop(host, port, reqs, connections=connections,
                                                       duration_s=seconds))

    def open(self, reqs: list[Req], rate: float, connections: int) -> LoadResult:
        host, port = self.server.host, self.server.port
        return loadgen.run(lambda: loadgen.open_loop(host, port, reqs, rate=rate,
                                                     connections=connections))

    def measured(self, key: str, title: str, run: Callable[[], LoadResult],
                 seconds: float) -> LoadResult:
        """Runs ``run()`` between two row counts and a server RSS/CPU window, optionally
        under py-spy, and records a table row."""
        before = self.server.count_alerts()
        prof = None
        exe = find_pyspy() if self.cfg.profile and key in ("a", "b1", "b2", "r1", "r50") else None
        if self.cfg.profile and key in ("a", "b1", "b2", "r1", "r50") and exe is None:
            say("  BENCH_PROFILE=1 but py-spy is not installed (.venv/bin/pip install py-spy)")
        if exe is not None:
            prof_s = max(1, min(10, int(seconds) - 2))
            prof = Profiler(exe, self.server.pid, prof_s,
                            RESULTS.parent / f"profile-{key}.txt")
        writer = self.server.writer_totals()
        self.sampler.begin()
        res: LoadResult = run()
        window = self.sampler.end()
        committed = self.server.count_alerts() - before
        spent, commits, alerts = (b - a for a, b in zip(writer, self.server.writer_totals(),
                                                         strict=True))
        if prof is not None:
            self.profiles[key] = prof.finish()
        self.rows.append(_row(key, title, res, committed, window))
        # The pipeline's writer is one thread: its share of the wall time says whether it
        # is the bottleneck (near 100%) or waits for requests.
        self.rows[-1]["writer"] = {
            "busy_pct": round(100 * spent / window.seconds, 1) if window.seconds else None,
            "commits": int(commits),
            "alerts_per_commit": round(alerts / commits, 1) if commits else None,
            "ms_per_commit": round(1000 * spent / commits, 2) if commits else None,
            "us_per_alert": round(1e6 * spent / alerts, 1) if alerts else None}
        self._progress(self.rows[-1])
        if res.exhausted:
            say(f"  note: the prebuilt requests ran out after {res.elapsed_s:.1f} of "
                f"{seconds:.0f} s (the rate is still right; raise BENCH_BATCH_RATE_CAP or "
                "BENCH_SINGLE_RATE_CAP)")
        return res

    def _progress(self, row: dict[str, Any]) -> None:
        lat = row["latency_ms"]
        say(f"  {row['title']}: {row['requests_per_s']:,.0f} req/s, "
            f"{row['alerts_per_s']:,.0f} alerts/s accepted, {row['committed']:,} committed, "
            f"p50 {lat['p50'] or 0:.1f} ms, p99 {lat['p99'] or 0:.1f} ms, "
            f"non-202 {row['non_202'] or 0}, CPU cores: server {row['server']['cpu_cores']:.2f}, "
            f"load generator {row['server']['loadgen_cores']:.2f}, "
            f"other processes {row['server']['other_cores']:.2f}; "
            f"server CPU {row['server']['cpu_us_per_alert'] or 0:,} us/alert, "
            f"RSS peak {row['server']['peak_rss_mb']:.0f} MB")
        w = row.get("writer")
        if w and w["commits"]:
            say(f"    writer busy {w['busy_pct']}% of the time: {w['commits']:,} commits of "
                f"{w['alerts_per_commit']} alerts, {w['ms_per_commit']} ms each, "
                f"{w['us_per_alert']} us/alert")

    # -- scenarios ----------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Both request shapes for a moment: imports, caches, connection pools. Not reported."""
        s = self.cfg.warmup_seconds
        say(f"warm-up: {s:.1f} s of batches and {s:.1f} s of single alerts (not reported)")
        a = self.closed(self.batches(200), self.cfg.batch_connections, s)
        b = self.closed(self.singles(4000), self.cfg.single_connections, s)
        self.extra["warmup"] = {"batches": a.to_dict(), "singles": b.to_dict()}

    def scenario_a(self) -> None:
        secs = self.cfg.a_seconds
        n = math.ceil(self.cfg.batch_rate_cap * secs / self.cfg.batch_size)
        say(f"(a) prebuilding {n:,} webhooks x {self.cfg.batch_size} alerts ...")
        reqs = self.batches(n)
        say(f"(a) {secs:.0f} s closed loop, {self.cfg.batch_connections} connections")
        self.measured("a", f"(a) AM webhook x{self.cfg.batch_size}", lambda: self.closed(
            reqs, self.cfg.batch_connections, secs), secs)

    def scenario_b1(self) -> LoadResult:
        secs = self.cfg.b_seconds
        n = math.ceil(self.cfg.single_rate_cap * secs)
        say(f"(b1) prebuilding {n:,} single-alert requests ({self.cfg.single_kind}) ...")
        reqs = self.singles(n)
        say(f"(b1) {secs:.0f} s closed loop, {self.cfg.single_connections} connections")
        return self.measured("b1", f"(b1) single alert, max ({self.cfg.single_kind})",
                             lambda: self.closed(reqs, self.cfg.single_connections, secs), secs)

    def scenario_b2(self, b1: LoadResult | None) -> None:
        secs = self.cfg.b_seconds
        # The target: p99 under 100 ms at half of 1,500 req/s. Set BENCH_B2_RATE to
        # measure at another rate (e.g. half of what b1 measured).
        rate = self.cfg.b2_rate if self.cfg.b2_rate is not None else TARGET_HALF_LOAD_RATE
        n = math.ceil(rate * secs)
        say(f"(b2) prebuilding {n:,} single-alert requests ...")
        reqs = self.singles(n)
        say(f"(b2) open loop at {rate:,.0f} req/s for {secs:.0f} s, "
            f"{self.cfg.open_connections} connections")
        self.measured("b2", f"(b2) single alert @ {rate:,.0f}/s open",
                      lambda: self.open(reqs, rate, self.cfg.open_connections), secs)

    def scenario_notify(self) -> None:
        """(n) alert accepted -> notification at a local webhook, at 100 and 1,000/s."""
        from bench import notify_latency

        say("(n) alert -> notification latency (routing rule to a local webhook receiver)")
        self.extra["n"] = notify_latency.run(
            self.server.base_url, self.server.admin_key, self.server.alertmanager_key,
            seconds=max(3.0, 10 * self.cfg.scale), say=say)

    def scenario_rules(self, n_rules: int) -> None:
        """Batches of 100 alerts over 1,000 groups through ``n_rules`` correlation rules."""
        key = f"r{n_rules}"
        self._set_rules(n_rules)
        secs = self.cfg.a_seconds
        n = math.ceil(self.cfg.batch_rate_cap * secs / self.cfg.batch_size)
        say(f"({key}) prebuilding {n:,} webhooks x {self.cfg.batch_size} alerts over "
            f"{RULE_GROUPS:,} groups ...")
        reqs = self.payloads.alertmanager(self.server.alertmanager_key, n, self.cfg.batch_size,
                                          groups=RULE_GROUPS)
        before = self.server.count_incidents()
        say(f"({key}) {secs:.0f} s closed loop, {self.cfg.batch_connections} connections, "
            f"{n_rules} rule{'s' if n_rules > 1 else ''}")
        self.measured(key, f"({key}) AM x{self.cfg.batch_size}, {n_rules} rules",
                      lambda: self.closed(reqs, self.cfg.batch_connections, secs), secs)
        made = self.server.count_incidents() - before
        self.rows[-1]["incidents_created"] = made
        say(f"  incidents opened: {made:,} (one per group the rules put the alerts in)")
        self._set_rules(0)

    def _set_rules(self, n_rules: int) -> None:
        for rule in self.server.api("GET", "/api/v1/correlation-rules"):
            self.server.api("DELETE", f"/api/v1/correlation-rules/{rule['id']}")
        if n_rules == 1:
            self.server.api("POST", "/api/v1/correlation-rules", {
                "name": "bench-prod", "condition": 'labels.env == "prod"',
                "group_by": ["labels.group"],
                "title_template": "{{ labels.group }}: {{ name }}"})
        for i in range(n_rules if n_rules > 1 else 0):
            self.server.api("POST", "/api/v1/correlation-rules", {
                "name": f"bench-team{i}", "position": i,
                "condition": f'labels.team == "team{i}" && '
                             'severity in ["critical", "high", "warning", "info"]',
                "group_by": ["labels.group"],
                "title_template": "{{ labels.team }} {{ labels.group }}: {{ name }}"})

    def scenario_c(self) -> None:
        cfg = self.cfg
        target = cfg.alerts_target
        current = start_count = self.server.count_alerts()
        say(f"(c) filling the database from {current:,} to {target:,} alerts "
            f"in rounds of <= {cfg.round_alerts:,} (each prebuilt while the server idles)")
        total = LoadResult("closed", cfg.batch_connections, 0)
        cpu = secs = client = machine = 0.0
        peak = 0
        rounds: list[dict[str, Any]] = []
        started = time.perf_counter()
        while current < target:
            n = math.ceil(min(cfg.round_alerts, target - current) / cfg.batch_size)
            reqs = self.payloads.alertmanager(self.server.alertmanager_key, n, cfg.batch_size,
                                              names=cfg.incident_groups)
            self.sampler.begin()
            res = self.closed(reqs, cfg.batch_connections, None)
            window = self.sampler.end()
            del reqs
            current = self.server.count_alerts()
            _merge(total, res)
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
        rss_after_ingest = self.sampler.sample()
        committed = current - start_count
        window = Window(peak, rss_after_ingest, cpu, secs, client, machine)
        if rounds:
            row = _row("c", f"(c) fill to {target:,}", total, committed, window)
            self.rows.append(row)
            self._progress(row)

        # The alert list at that size (first call reported apart: cold caches).
        get = self.payloads.get("/api/v1/alerts?limit=50", self.server.admin_key)
        host, port = self.server.host, self.server.port
        calls = loadgen.run(lambda: loadgen.timed_requests(host, port, get, 21))
        bad = [s for s, _ in calls if s != 200]
        times = [ms for _, ms in calls[1:]]
        incident_calls = {}
        for path in ("/api/v1/incidents?limit=50", "/api/v1/incidents?limit=50&status=firing",
                     "/api/v1/incidents?limit=50&sort=-severity", "/api/v1/incidents/counts"):
            req = self.payloads.get(path, self.server.admin_key)
            timed = loadgen.run(lambda req=req: loadgen.timed_requests(host, port, req, 41))
            ms = sorted(t for _, t in timed[1:])
            incident_calls[path] = {
                "p50_ms": round(statistics.median(ms), 2),
                "p95_ms": round(ms[math.ceil(0.95 * len(ms)) - 1], 2),
                "non_200": sum(1 for st, _ in timed if st != 200)}
        incidents = self.server.count_incidents()
        # The fill leaves ~100,000 incident.created events for the engine and the notifier;
        # the pages are timed once they are consumed (at most 3 minutes' wait), as a
        # responder would meet them, not while the process works off a fill's backlog.
        waited = time.perf_counter()
        while self.server.outbox_backlog() and time.perf_counter() - waited < 180:
            time.sleep(1)
        backlog = self.server.outbox_backlog()
        say(f"  web pages timed after {time.perf_counter() - waited:.0f} s waiting for the "
            f"outbox backlog to be consumed ({backlog:,} events left)")
        ui_calls = self._ui_pages(host, port)
        rss_after_queries = self.sampler.sample()
        self.extra["c_incidents"] = {"incidents": incidents, "calls": incident_calls}
        self.extra["c_ui"] = {"incidents": incidents, "calls": ui_calls}
        for path, figures in {**incident_calls, **ui_calls}.items():
            say(f"  GET {path} at {incidents:,} incidents: p50 {figures['p50_ms']:.1f} ms, "
                f"p95 {figures['p95_ms']:.1f} ms")
        self.extra["c"] = {
            "alerts_stored": current,
            "fill_wall_s": round(fill_s, 1),
            "rounds": rounds,
            "rss_after_ingest_mb": mb(rss_after_ingest),
            "rss_after_queries_mb": mb(rss_after_queries),
            "peak_rss_mb": mb(peak or rss_after_ingest),
            "db_mb": mb(self.server.db_bytes()),
            "list_first_call_ms": round(calls[0][1], 2),
            "list_median_ms": round(statistics.median(times), 2),
            "list_p90_ms": round(sorted(times)[math.ceil(0.9 * len(times)) - 1], 2),
            "list_non_200": len(bad),
        }
        say(f"  GET /api/v1/alerts?limit=50 at {current:,} alerts: median "
            f"{statistics.median(times):.1f} ms (first call {calls[0][1]:.1f} ms); "
            f"RSS {mb(rss_after_ingest):.0f} MB after ingest, {mb(rss_after_queries):.0f} MB "
            f"after queries; database {mb(self.server.db_bytes()):,.0f} MB")

    def _ui_pages(self, host: str, port: int) -> dict[str, dict[str, Any]]:
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
            opener.open(f"{self.server.base_url}/setup", data=form, timeout=30)
            return {}
        except urllib.error.HTTPError as redirect:
            cookie = (redirect.headers.get("Set-Cookie") or "").split(";")[0]
        if not cookie:
            say("  (web pages not measured: /setup gave no session cookie)")
            return {}
        first = self.server.first_incident_id()
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

    def run(self) -> None:
        self.warm_up()
        sc = self.cfg.scenarios
        if "a" in sc:
            self.scenario_a()
        b1 = self.scenario_b1() if "b1" in sc else None
        if "b2" in sc:
            self.scenario_b2(b1)
        if "r1" in sc:
            self.scenario_rules(1)
        if "r50" in sc:
            self.scenario_rules(50)
        if "rx" in sc:
            regex_silence.run(self, say)
        if "c" in sc:
            self.scenario_c()
        if "n" in sc:  # last: at 1,000/s the notifier falls behind and would load the rest
            self.scenario_notify()

    # -- verdicts -------------------------------------------------------------------------------

    def targets(self) -> list[dict[str, Any]]:
        rows = {r["key"]: r for r in self.rows}
        out: list[dict[str, Any]] = []

        def add(target: str, measured: str, ok: bool | None, note: str = "",
                key: str = "") -> None:
            result = "n/a" if ok is None else ("PASS" if ok else "MISS")
            other = rows[key]["server"]["other_cores"] if key in rows else 0.0
            if other >= NOISY_OTHER_CORES:
                noisy = f"noisy: other processes used {other:.2f} cores"
                note = f"{note}; {noisy}" if note else noisy
            out.append({"target": target, "measured": measured,
                        "result": result + (f" ({note})" if note else "")})

        if "a" in rows:
            r = rows["a"]
            durable = min(r["accepted_alerts"], r["committed"]) / r["elapsed_s"]
            lost = r["accepted_alerts"] - r["committed"]
            add(f"(a) >= {TARGET_BATCH_ALERTS_S:,} alerts/s, batches of {self.cfg.batch_size}",
                f"{durable:,.0f} alerts/s", durable >= TARGET_BATCH_ALERTS_S,
                f"{lost:,} acknowledged but missing!" if lost > 0 else "", "a")
        if "b1" in rows:
            r = rows["b1"]
            add(f"(b) >= {TARGET_SINGLE_REQ_S:,} single-alert requests/s",
                f"{r['requests_per_s']:,.0f} req/s", r["requests_per_s"] >= TARGET_SINGLE_REQ_S,
                key="b1")
        if "b2" in rows:
            r = rows["b2"]
            p99 = r["latency_ms"]["p99"]
            rate = r["target_rate"]
            behind = r["requests_per_s"] < 0.95 * rate
            add(f"(b) p99 < {TARGET_P99_MS:.0f} ms at {rate:,.0f} req/s (open loop)",
                f"p99 {p99:,.1f} ms, p50 {r['latency_ms']['p50']:,.1f} ms" if p99 else "-",
                p99 is not None and p99 < TARGET_P99_MS and not r["non_202"],
                "server fell behind the offered rate" if behind else "", "b2")
        for row in self.extra.get("n", []):
            p99 = row["p99_ms"]
            add(f"(n) alert -> notification p99 < {notify_latency_target():.0f} ms at "
                f"{row['rate']:,.0f}/s", f"p99 {p99} ms, p50 {row['p50_ms']} ms",
                p99 is not None and p99 < notify_latency_target() and not row["missing"],
                f"{row['missing']} not notified" if row["missing"] else "")
        for key in ("r1", "r50"):
            if key in rows:
                r = rows[key]
                durable = min(r["accepted_alerts"], r["committed"]) / r["elapsed_s"]
                add(f"({key}) >= {TARGET_RULES_ALERTS_S:,} alerts/s with incidents, "
                    f"{key[1:]} rules", f"{durable:,.0f} alerts/s, "
                    f"{r.get('incidents_created', 0):,} incidents",
                    durable >= TARGET_RULES_ALERTS_S, key=key)
        rx = regex_silence.target(self.extra)
        if rx is not None:
            add(*rx[:3], rx[3], "rx-on")
        if "c_incidents" in self.extra:
            ci = self.extra["c_incidents"]
            worst = max(f["p95_ms"] for p, f in ci["calls"].items() if "counts" not in p)
            add(f"(c) incident list p95 < {TARGET_INCIDENT_LIST_P95_MS:.0f} ms",
                f"{worst:,.1f} ms (worst of 3 lists) at {ci['incidents']:,} incidents",
                worst < TARGET_INCIDENT_LIST_P95_MS and ci["incidents"] >= 100_000,
                "" if ci["incidents"] >= 100_000 else "fewer than 100,000 incidents")
        if self.extra.get("c_ui", {}).get("calls"):
            cu = self.extra["c_ui"]
            worst_page = max(cu["calls"].items(), key=lambda kv: kv[1]["p95_ms"])
            bad = sum(f["non_200"] for f in cu["calls"].values())
            add(f"(c) web pages p95 < {TARGET_PAGE_MS:.0f} ms",
                f"{worst_page[1]['p95_ms']:,.1f} ms (worst: {worst_page[0]}) at "
                f"{cu['incidents']:,} incidents",
                worst_page[1]["p95_ms"] < TARGET_PAGE_MS and cu["incidents"] >= 100_000
                and not bad,
                f"{bad} non-200 answers" if bad else
                "" if cu["incidents"] >= 100_000 else "fewer than 100,000 incidents")
        if "c" in self.extra:
            c = self.extra["c"]
            rss = max(c["rss_after_ingest_mb"], c["rss_after_queries_mb"])
            short = c["alerts_stored"] < TARGET_ALERTS
            add(f"(c) RSS < {TARGET_RSS_MB:.0f} MB after {TARGET_ALERTS:,} alerts",
                f"{rss:,.0f} MB at {c['alerts_stored']:,} (peak {c['peak_rss_mb']:,.0f})",
                rss < TARGET_RSS_MB,
                f"only {c['alerts_stored']:,} stored: BENCH_ALERTS" if short else "", "c")
            add("    GET /api/v1/alerts?limit=50, median of 20",
                f"{c['list_median_ms']:,.1f} ms", None, "no target")
        return out


def notify_latency_target() -> float:
    from bench.notify_latency import TARGET_P99_MS
    return TARGET_P99_MS


def _row(key: str, title: str, res: LoadResult, committed: int, window: Window) -> dict[str, Any]:
    d = res.to_dict()
    server = window.to_dict()
    # Server CPU per unit of work: steadier than rates when other processes share the CPUs.
    server["cpu_us_per_request"] = (round(window.cpu_s / res.accepted_requests * 1e6)
                                    if res.accepted_requests else None)
    server["cpu_us_per_alert"] = (round(window.cpu_s / res.accepted_alerts * 1e6)
                                  if res.accepted_alerts else None)
    return {"key": key, "title": title, **d, "committed": committed,
            "non_202": {str(k): v for k, v in res.rejected.items()},
            "server": server}


def _merge(total: LoadResult, res: LoadResult) -> None:
    total.planned_requests += res.planned_requests
    total.sent += res.sent
    total.statuses.update(res.statuses)
    total.accepted_requests += res.accepted_requests
    total.accepted_alerts += res.accepted_alerts
    total.latencies_ns.extend(res.latencies_ns)
    total.elapsed_s += res.elapsed_s
    total.client_cpu_s += res.client_cpu_s
    total.error_samples.extend(res.error_samples[: max(0, 5 - len(total.error_samples))])


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    cfg = Config.from_env()
    info = report.machine()
    say(f"Vigil ingest benchmark -- {info['nproc']} CPUs ({info['cpu_model']}), "
        f"{info['memory_gb']} GB, Python {info['python']}, SQLite {info['sqlite']}, "
        f"load generator on {loadgen.event_loop_name()}, load average {info['loadavg_start']}")
    say(f"Vigil at commit {info['vigil_commit'] or '?'}"
        + (" with uncommitted changes in src/" if info["vigil_src_dirty"] else ""))
    if info["nproc"] != 2:
        say(f"note: the targets are for a 2-core machine; this one has {info['nproc']}")
    if cfg.profile:
        say("note: BENCH_PROFILE=1 -- py-spy samples the server during (a) and (b1); "
            "those figures are perturbed")
    workdir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    server = VigilServer(cfg.vigil_bin, workdir)
    sampler: Sampler | None = None
    bench: Bench | None = None
    failure: str | None = None
    exit_code: int | None = None
    started = datetime.now(UTC)
    try:
        say(f"starting {cfg.vigil_bin} serve on a fresh SQLite database in {workdir}")
        server.start()
        sampler = Sampler(server.pid)
        sampler.start()
        say(f"server PID {server.pid} on {server.base_url}, RSS at start "
            f"{mb(sampler.sample()):.0f} MB")
        bench = Bench(cfg, server, sampler)
        bench.extra["rss_start_mb"] = mb(sampler.current)
        bench.run()
    except KeyboardInterrupt:
        failure = "interrupted"
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            if sampler is not None:
                sampler.stop()
        finally:
            exit_code = server.stop()
        if cfg.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]

    if failure:
        say(f"\nbenchmark failed: {failure}\n--- server output (tail) ---\n{server.tail()}")
    if bench is None:
        return 1
    targets = bench.targets()
    if bench.rows:
        say("")
        say(report.scenario_table(bench.rows))
        say("(latencies are of 202 answers; 'o' = open loop, latency from the scheduled send "
            "time; CPU = cores busy: server / load generator / other processes)")
    if targets:
        say("")
        say(report.targets_table(targets))
    for key, prof in bench.profiles.items():
        say("")
        say(report.profile_text(key, prof))
    say(f"\nwall time {(datetime.now(UTC) - started).total_seconds():.0f} s; "
        f"load average {info['loadavg_start']} at start, {info['loadavg_end']} at end; "
        f"server stopped in {server.stop_seconds:.1f} s, exit code {exit_code}"
        + (" (uvicorn re-raises SIGTERM after its graceful shutdown)" if exit_code == -15 else ""))
    restarts = [line.rsplit("WAL restarted in ", 1)[1] for line in server.output
                if "WAL restarted in " in line]
    if restarts:
        say(f"SQLite WAL restarts by the writer: {len(restarts)} ({', '.join(restarts)})")

    say("\non-call core (in process, median of 5; targets: < 50 ms and < 100 ms):")
    from bench import oncall
    bench.extra["oncall"] = oncall.run()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": info,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()},
        "scenarios": bench.rows,
        "targets": targets,
        "extra": bench.extra,
        "profiles": bench.profiles,
        "failure": failure,
        "server_exit_code": exit_code,
        "server_stop_seconds": round(server.stop_seconds, 2),
    }
    RESULTS.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    say(f"results written to {RESULTS.relative_to(ROOT)}")
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
