"""The benchmark's knobs (BENCH_* environment variables), targets and paths."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

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
