"""The verdicts: each target, what was measured, PASS or MISS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench import regex_silence
from bench.config import (
    NOISY_OTHER_CORES,
    TARGET_ALERTS,
    TARGET_BATCH_ALERTS_S,
    TARGET_INCIDENT_LIST_P95_MS,
    TARGET_P99_MS,
    TARGET_PAGE_MS,
    TARGET_RSS_MB,
    TARGET_RULES_ALERTS_S,
    TARGET_SINGLE_REQ_S,
)

if TYPE_CHECKING:
    from bench.harness import Bench


def targets(bench: Bench) -> list[dict[str, Any]]:
    rows = {r["key"]: r for r in bench.rows}
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
        add(f"(a) >= {TARGET_BATCH_ALERTS_S:,} alerts/s, batches of {bench.cfg.batch_size}",
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
    for row in bench.extra.get("n", []):
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
    rx = regex_silence.target(bench.extra)
    if rx is not None:
        add(*rx[:3], rx[3], "rx-on")
    if "c_incidents" in bench.extra:
        ci = bench.extra["c_incidents"]
        worst = max(f["p95_ms"] for p, f in ci["calls"].items() if "counts" not in p)
        add(f"(c) incident list p95 < {TARGET_INCIDENT_LIST_P95_MS:.0f} ms",
            f"{worst:,.1f} ms (worst of 3 lists) at {ci['incidents']:,} incidents",
            worst < TARGET_INCIDENT_LIST_P95_MS and ci["incidents"] >= 100_000,
            "" if ci["incidents"] >= 100_000 else "fewer than 100,000 incidents")
    if bench.extra.get("c_ui", {}).get("calls"):
        cu = bench.extra["c_ui"]
        worst_page = max(cu["calls"].items(), key=lambda kv: kv[1]["p95_ms"])
        bad = sum(f["non_200"] for f in cu["calls"].values())
        add(f"(c) web pages p95 < {TARGET_PAGE_MS:.0f} ms",
            f"{worst_page[1]['p95_ms']:,.1f} ms (worst: {worst_page[0]}) at "
            f"{cu['incidents']:,} incidents",
            worst_page[1]["p95_ms"] < TARGET_PAGE_MS and cu["incidents"] >= 100_000
            and not bad,
            f"{bad} non-200 answers" if bad else
            "" if cu["incidents"] >= 100_000 else "fewer than 100,000 incidents")
    if "c" in bench.extra:
        c = bench.extra["c"]
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
