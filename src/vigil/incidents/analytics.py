"""Incident analytics: MTTA, MTTR and noise over a period, per severity and overall."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.core.severity import SEVERITY_LABELS
from vigil.incidents.models import Incident


def _figures(durations: list[float]) -> dict[str, float | int | None]:
    if not durations:
        return {"count": 0, "mean_s": None, "median_s": None, "p90_s": None}
    ordered = sorted(durations)
    return {"count": len(ordered), "mean_s": round(statistics.fmean(ordered), 1),
            "median_s": round(statistics.median(ordered), 1),
            "p90_s": round(ordered[max(0, int(0.9 * len(ordered) + 0.5) - 1)], 1)}


def summary(session: Session, *, tenant_id: int, since: datetime, until: datetime,
            top: int = 10) -> dict[str, Any]:
    """Incidents created in [since, until): how many, how fast acknowledged (MTTA) and
    resolved (MTTR), and how many were noise, with the noisiest services and rules."""
    base = (Incident.tenant_id == tenant_id, Incident.created_at >= since,
            Incident.created_at < until, Incident.pending.is_(False),
            Incident.candidate.is_(False))
    rows = session.execute(select(Incident.severity, Incident.created_at,
                                  Incident.acknowledged_at, Incident.resolved_at,
                                  Incident.noise).where(*base)).all()
    tta: dict[str, list[float]] = {}
    ttr: dict[str, list[float]] = {}
    noise = 0
    for severity, created, acked, resolved, is_noise in rows:
        label = SEVERITY_LABELS[severity]
        if acked is not None:
            tta.setdefault(label, []).append((acked - created).total_seconds())
        if resolved is not None:
            ttr.setdefault(label, []).append((resolved - created).total_seconds())
        noise += bool(is_noise)
    every_tta = [x for v in tta.values() for x in v]
    every_ttr = [x for v in ttr.values() for x in v]
    noisy_rules = session.execute(
        select(Incident.rule_id, func.count()).where(*base, Incident.noise.is_(True))
        .group_by(Incident.rule_id).order_by(func.count().desc()).limit(top)).all()
    return {
        "since": since, "until": until, "incidents": len(rows),
        "mtta": {"all": _figures(every_tta),
                 **{k: _figures(v) for k, v in sorted(tta.items())}},
        "mttr": {"all": _figures(every_ttr),
                 **{k: _figures(v) for k, v in sorted(ttr.items())}},
        "noise": {"count": noise, "rate": round(noise / len(rows), 4) if rows else 0.0,
                  "by_rule": [{"rule_id": r, "incidents": int(n)} for r, n in noisy_rules]},
    }
