"""``vigil simulate``: realistic Alertmanager traffic for trying Vigil out and rehearsing."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

MODES = ("latency", "errors", "meltdown", "flapping")

_SERVICES = ["checkout", "payments", "search", "catalog", "auth", "cart", "shipping",
             "recommendations", "inventory", "notifications"]


def _alert(name: str, status: str, starts: datetime, labels: dict[str, str],
           summary: str, description: str = "") -> dict[str, Any]:
    ends = "0001-01-01T00:00:00Z" if status == "firing" else datetime.now(UTC).isoformat()
    return {
        "status": status,
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": summary, "description": description,
                        "runbook_url": f"https://runbooks.example.com/{name}"},
        "startsAt": starts.isoformat(),
        "endsAt": ends,
        "generatorURL": f"http://prometheus.example.com/graph?g0.expr={name}",
    }


def _group(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4", "groupKey": "{}:{alertname=\"" + alerts[0]["labels"]["alertname"] + "\"}",
        "truncatedAlerts": 0, "status": "firing" if firing else "resolved",
        "receiver": "vigil", "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def build_round(mode: str, rnd: int, rounds: int, services: list[str], rng: random.Random,
                t0: datetime) -> list[dict[str, Any]]:
    """The Alertmanager groups to send in one round of a scenario."""
    last = rnd == rounds - 1
    groups: list[dict[str, Any]] = []
    if mode == "latency":
        alerts = []
        for i, s in enumerate(services):
            p99 = rng.randint(600, 3000)
            sev = "critical" if i % 3 == 0 else "warning"  # a rule per severity, as in Prometheus
            alerts.append(_alert("HighLatency", "resolved" if last and rng.random() < .5
                                 else "firing", t0, {"service": s, "severity": sev,
                                                     "env": "prod"},
                                 f"{s} p99 latency is {p99} ms", "SLO is 500 ms"))
        groups.append(_group(alerts))
    elif mode == "errors":
        alerts = [
            _alert("HighErrorRate", "resolved" if last else "firing", t0,
                   {"service": s, "severity": "critical", "env": "prod"},
                   f"{s} 5xx rate {rng.uniform(5, 40):.1f}%")
            for s in services
        ]
        groups.append(_group(alerts))
    elif mode == "meltdown":
        groups.append(_group([_alert("PostgresDown", "firing", t0,
                                     {"service": "postgres", "severity": "critical",
                                      "instance": "db-1:5432", "env": "prod"},
                                     "primary database is unreachable")]))
        spread = services[: max(1, len(services) * (rnd + 1) // rounds)]
        for s in spread:
            pods = [f"{s}-{i}" for i in range(3)]
            groups.append(_group([
                _alert("PodCrashLooping", "firing", t0 + timedelta(seconds=rnd),
                       {"service": s, "pod": p, "severity": "high", "env": "prod"},
                       f"{p} restarted {rng.randint(3, 30)} times")
                for p in pods
            ]))
    else:  # flapping
        status = "firing" if rnd % 2 == 0 else "resolved"
        start = t0 + timedelta(minutes=rnd)
        groups.append(_group([_alert("DiskSpaceLow", status, start,
                                     {"service": services[0], "severity": "warning",
                                      "instance": "node-7", "env": "prod"},
                                     "disk /var is 91% full")]))
    return groups


async def run(*, url: str, token: str, mode: str, services: int, rounds: int, interval: float,
              seed: int, echo: Callable[[str], Any] = print) -> str:
    rng = random.Random(seed)
    names = (_SERVICES * (services // len(_SERVICES) + 1))[:services]
    names = [n if i < len(_SERVICES) else f"{n}-{i}" for i, n in enumerate(names)]
    t0 = datetime.now(UTC).replace(microsecond=0)
    endpoint = url.rstrip("/") + f"/api/v1/ingest/alertmanager/{token}"
    statuses: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=10) as client:
        for rnd in range(rounds):
            for group in build_round(mode, rnd, rounds, names, rng, t0):
                resp = await client.post(endpoint, json=group)
                statuses[resp.status_code] += 1
                if resp.status_code == 202:
                    for a in resp.json()["alerts"]:
                        outcomes[a["outcome"]] += 1
                else:
                    echo(f"round {rnd + 1}: HTTP {resp.status_code}: {resp.text[:200]}")
            echo(f"round {rnd + 1}/{rounds} sent ({mode})")
            if rnd < rounds - 1 and interval:
                await asyncio.sleep(interval)
    return (f"requests by status: {dict(statuses)}; alerts by outcome: {dict(outcomes)}")
