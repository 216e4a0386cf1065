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

import os
import shutil
import signal
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import loadgen, report
from bench.config import RESULTS, ROOT, Config, say
from bench.harness import Bench
from bench.server import Sampler, VigilServer, mb


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
