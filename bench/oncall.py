"""``python -m bench.oncall``: the on-call core, in process, no database.

(a) who is on call on 1,000 schedules at one instant: each schedule has 3 layers (a
    weekly follow-the-sun base, a daily business-hours layer, a 12-hour weekend layer)
    in one of four time zones, and every third one carries overrides;
(b) one year of final shifts of one such 3-layer schedule (with overrides).

Each figure is the median of 5 runs, in milliseconds. Knob: BENCH_ONCALL_SCHEDULES.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from vigil.oncall.schedules.definition import (
    Layer,
    Override,
    OverrideKind,
    Rotation,
    Schedule,
    Unit,
    business_hours,
    daily_windows,
)
from vigil.oncall.schedules.shifts import final_shifts, on_call_at

RUNS = 5
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney")
AT = datetime(2026, 7, 15, 13, 37, tzinfo=UTC)
YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def make_schedule(n: int) -> Schedule:
    """Schedule ``n``: 3 layers of 4 to 8 people, rotations starting on different days."""
    people = [f"user{n}-{i}" for i in range(4 + n % 5)]
    start = datetime.combine(date(2025, 1, 1 + n % 28), clock_time(9))  # local wall clock
    base = Layer("base", Rotation(tuple(people), start, Unit.WEEK, 1 + n % 2))
    day = Layer("business", Rotation(tuple(reversed(people)), start, Unit.DAY, 1),
                business_hours())
    weekend = Layer("weekend", Rotation(tuple(people[::2]), start, Unit.HOUR, 12),
                    daily_windows(clock_time(0), clock_time(0), (5, 6)))
    overrides: tuple[Override, ...] = ()
    if n % 3 == 0:
        at = AT - timedelta(hours=n % 48)
        overrides = (
            Override(OverrideKind.REPLACE, f"cover{n}", at, at + timedelta(hours=8)),
            Override(OverrideKind.ADD, people[0], at + timedelta(days=3),
                     at + timedelta(days=4)),
            Override(OverrideKind.REMOVE, people[1], AT - timedelta(days=90),
                     AT - timedelta(days=89)))
    return Schedule(f"schedule-{n}", ZoneInfo(ZONES[n % len(ZONES)]),
                    (base, day, weekend), overrides)


def median_ms(work: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run() -> dict[str, Any]:
    count = int(os.environ.get("BENCH_ONCALL_SCHEDULES", "1000"))
    schedules = [make_schedule(n) for n in range(count)]
    on_call_ms = median_ms(lambda: [on_call_at(s, AT) for s in schedules])
    year = schedules[0]
    shifts = final_shifts(year, *YEAR)
    year_ms = median_ms(lambda: final_shifts(year, *YEAR))
    result = {"schedules": count, "on_call_ms": round(on_call_ms, 2),
              "year_shifts": len(shifts), "year_of_shifts_ms": round(year_ms, 2)}
    print(f"(a) on call now, {count} schedules x 3 layers: {on_call_ms:.1f} ms "
          f"(median of {RUNS})")
    print(f"(b) one year of final shifts, 3 layers ({len(shifts)} shifts): {year_ms:.1f} ms "
          f"(median of {RUNS})")
    return result


if __name__ == "__main__":
    run()
