"""The benchmark's harness: one running server, the load generator, the figures of each
scenario; scenarios (a), (b1), (b2), (r1), (r50) and (n) (the others: fill.py for (c),
regex_silence.py for (rx))."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bench import fill, loadgen, regex_silence, verdicts
from bench.config import RESULTS, RULE_GROUPS, TARGET_HALF_LOAD_RATE, Config, say
from bench.loadgen import LoadResult, Req
from bench.payloads import Payloads
from bench.profile import Profiler, find_pyspy
from bench.rows import scenario_row
from bench.server import Sampler, VigilServer


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
        self.rows.append(scenario_row(key, title, res, committed, window))
        # The pipeline's writer is one thread: its share of the wall time says whether it
        # is the bottleneck (near 100%) or waits for requests.
        self.rows[-1]["writer"] = {
            "busy_pct": round(100 * spent / window.seconds, 1) if window.seconds else None,
            "commits": int(commits),
            "alerts_per_commit": round(alerts / commits, 1) if commits else None,
            "ms_per_commit": round(1000 * spent / commits, 2) if commits else None,
            "us_per_alert": round(1e6 * spent / alerts, 1) if alerts else None}
        self.progress(self.rows[-1])
        if res.exhausted:
            say(f"  note: the prebuilt requests ran out after {res.elapsed_s:.1f} of "
                f"{seconds:.0f} s (the rate is still right; raise BENCH_BATCH_RATE_CAP or "
                "BENCH_SINGLE_RATE_CAP)")
        return res

    def progress(self, row: dict[str, Any]) -> None:
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
        fill.run(self)

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

    def targets(self) -> list[dict[str, Any]]:
        return verdicts.targets(self)
