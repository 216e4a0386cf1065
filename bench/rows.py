"""A scenario's row in the results: load figures, server figures, rounds merged."""

from __future__ import annotations

from typing import Any

from bench.loadgen import LoadResult
from bench.server import Window


def scenario_row(key: str, title: str, res: LoadResult, committed: int,
                 window: Window) -> dict[str, Any]:
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


def merge(total: LoadResult, res: LoadResult) -> None:
    """Adds ``res`` (one round) into ``total``."""
    total.planned_requests += res.planned_requests
    total.sent += res.sent
    total.statuses.update(res.statuses)
    total.accepted_requests += res.accepted_requests
    total.accepted_alerts += res.accepted_alerts
    total.latencies_ns.extend(res.latencies_ns)
    total.elapsed_s += res.elapsed_s
    total.client_cpu_s += res.client_cpu_s
    total.error_samples.extend(res.error_samples[: max(0, 5 - len(total.error_samples))])
