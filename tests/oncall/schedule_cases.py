"""Shared by the pure on-call core tests (tests/oncall/test_schedule_*.py): time zones,
wall-clock and UTC instants, and small builders for layers and schedules.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from vigil.oncall.schedules.definition import (
    Layer,
    Rotation,
    Schedule,
    Unit,
    Window,
)

BERLIN = ZoneInfo("Europe/Berlin")


NEW_YORK = ZoneInfo("America/New_York")


ZUTC = ZoneInfo("UTC")


def wall(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A naive local wall-clock time, as rotations take."""
    return datetime.combine(date(year, month, day), time(hour, minute))


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0,
          minute: int = 0) -> datetime:
    """A wall-clock time in ``zone`` as a UTC instant."""
    return wall(year, month, day, hour, minute).replace(tzinfo=zone).astimezone(UTC)


def u(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
      second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def rotation_layer(people: str | tuple[str, ...], start: datetime, unit: Unit = Unit.DAY,
                   length: int = 1, restrictions: tuple[Window, ...] = (),
                   name: str = "layer") -> Layer:
    return Layer(name, Rotation(tuple(people), start, unit, length), restrictions)


def schedule(*layers: Layer, zone: ZoneInfo = ZUTC, **extra: Any) -> Schedule:
    return Schedule("primary", zone, layers, **extra)
