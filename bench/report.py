"""The machine description and the printed tables."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    return {
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "vigil_commit": _git("rev-parse", "--short", "HEAD"),
        "vigil_src_dirty": bool(_git("status", "--porcelain", "--", "src")),
    }


def _git(*args: str) -> str:
    """The Vigil source the figures belong to (empty outside a git checkout)."""
    try:
        out = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent.parent,
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _num(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def _int(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def scenario_table(rows: list[dict[str, Any]]) -> str:
    head = ("scenario", "conns", "secs", "req/s", "alerts/s", "accepted", "committed",
            "p50 ms", "p90 ms", "p99 ms", "max ms", "non-202", "CPU srv/gen/oth",
            "srv us/alert", "RSS peak/end MB")
    lines = [head]
    for r in rows:
        lat = r["latency_ms"]
        non202 = ", ".join(f"{k}x{v}" for k, v in r["non_202"].items()) or "0"
        conns = str(r["connections"]) if r["mode"] == "closed" else f"{r['connections']}o"
        lines.append((
            r["title"], conns, _num(r["elapsed_s"]), _num(r["requests_per_s"]),
            _num(r["alerts_per_s"]), _int(r["accepted_alerts"]), _int(r["committed"]),
            _num(lat["p50"], 2), _num(lat["p90"], 2), _num(lat["p99"], 2), _num(lat["max"], 1),
            non202, f"{r['server']['cpu_cores']:.2f}/{r['server']['loadgen_cores']:.2f}/"
                     f"{r['server']['other_cores']:.2f}",
            _int(r["server"]["cpu_us_per_alert"]),
            f"{r['server']['peak_rss_mb']:.0f}/{r['server']['end_rss_mb']:.0f}",
        ))
    return _grid(lines, right_from=1)


def targets_table(targets: list[dict[str, Any]]) -> str:
    lines = [("target (2-core machine)", "measured", "result")]
    lines += [(t["target"], t["measured"], t["result"]) for t in targets]
    return _grid(lines, right_from=99)


def _grid(lines: Sequence[Sequence[str]], right_from: int) -> str:
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]

    def fmt(row: Sequence[str]) -> str:
        cells = [c.rjust(w) if i >= right_from else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(lines[0]), rule, *(fmt(r) for r in lines[1:])])


def profile_text(name: str, prof: dict[str, Any]) -> str:
    if "error" in prof:
        return f"profile {name}: py-spy failed: {prof['error'].strip()[-300:]}"
    out = [f"profile {name}: {prof['samples']:,} non-idle samples ({prof['raw_file']})"]
    out.append("  by thread: " + ", ".join(f"{t['function']} {t['pct']}%"
                                           for t in prof["threads"]))
    out.append("  top functions by own time:")
    out += [f"    {r['pct']:5.1f}%  {r['function']}" for r in prof["own"][:12]]
    return "\n".join(out)
