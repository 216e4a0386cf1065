"""The one source of time. The core takes ``now`` from here; tests move a FakeClock."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware datetime")

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> datetime:
        self._now += timedelta(**kwargs)
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware datetime")
        self._now = when


class FileOffsetClock:
    """System time moved forward by the number of seconds written in a file: lets a test
    step a real ``vigil serve`` process through time (``VIGIL_TEST_CLOCK_FILE``). The file
    is re-read only when it changes. Never for production use."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._offset = timedelta(0)

    def _read(self) -> timedelta:
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return timedelta(0)
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            with open(self._path, encoding="utf-8") as f:
                text = f.read().strip()
            self._offset = timedelta(seconds=float(text or 0))
            self._stamp = stamp
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self._read()


def ensure_utc(value: datetime) -> datetime:
    """Aware datetimes are converted to UTC; naive ones are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
