"""Time in the journeys: the server's clock runs ``ServerClock.offset`` ahead of real time
(it reads ``VIGIL_TEST_CLOCK_FILE``), so a journey steps time by writing that file and never
sleeps to pass it. Whatever must *arrive* is waited for by polling with a deadline
(``wait_for``, at most ``WAIT`` seconds).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

#: Seconds a journey waits for something to arrive (the server ticks every 0.2 s).
WAIT = 20.0

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], what: str, timeout: float = WAIT,
             context: Callable[[], str] | None = None) -> T:
    """The first truthy result of ``check``, polled until ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            extra = f"\n{context()}" if context is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(0.05)


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ServerClock:
    """The server's clock: real time plus ``offset``, which ``advance`` moves forward by
    rewriting the clock file (atomically, so the server never reads half a number)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = timedelta(0)
        self._write()

    def now(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, **kwargs: float) -> datetime:
        self.offset += timedelta(**kwargs)
        self._write()
        return self.now()

    def _write(self) -> None:
        before = self.path.stat() if self.path.exists() else None
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.write_text(f"{self.offset.total_seconds():.3f}\n")
        os.replace(tmp, self.path)
        after = self.path.stat()
        if before is not None and (after.st_mtime_ns, after.st_size) == (
                before.st_mtime_ns, before.st_size):
            # The server notices a change by (mtime, size): make sure it sees one.
            os.utime(self.path, ns=(after.st_atime_ns, before.st_mtime_ns + 1_000_000))
