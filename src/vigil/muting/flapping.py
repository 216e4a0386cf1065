"""Flapping: an alert that keeps firing and resolving. Pure; times are passed in.

An alert *starts* flapping when it has made at least ``threshold`` state changes (fire or
resolve transitions) within ``window`` (default: 5 changes within 30 minutes, i.e. more
than 4 — two and a half fire/resolve cycles in half an hour). It *stops* only once it has
been stable, with no change at all, for ``quiet`` (default: ``window``); until then each new
change keeps it flapping, even slow ones. Windows are half-open: a change exactly
``window`` before ``now`` no longer counts, and the alert stops flapping exactly ``quiet``
after its last change.

:class:`FlapState` is the bounded form to keep per alert (a JSON list of ISO timestamps).
Use the same parameters with a state throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.errors import InvalidInput

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_WINDOW",
    "MAX_KEPT",
    "FlapState",
    "flapping",
    "is_flapping",
    "record",
]

DEFAULT_THRESHOLD = 5
DEFAULT_WINDOW = timedelta(minutes=30)
#: The most transitions a FlapState keeps (and so the largest threshold).
MAX_KEPT = 50


def _aware(t: datetime, what: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return t.astimezone(UTC)


def _policy(threshold: int, window: timedelta, quiet: timedelta | None) -> timedelta:
    if isinstance(threshold, bool) or not isinstance(threshold, int) \
            or not 2 <= threshold <= MAX_KEPT:
        raise InvalidInput(f"threshold must be a whole number from 2 to {MAX_KEPT}",
                           field="threshold")
    if window <= timedelta(0):
        raise InvalidInput("window must be positive", field="window")
    if quiet is None:
        return window
    if quiet < timedelta(0):
        raise InvalidInput("quiet must not be negative", field="quiet")
    return quiet


def _count(changes: Sequence[datetime], at: datetime, window: timedelta) -> int:
    """Changes in ``(at - window, at]``; ``changes`` sorted."""
    lo = at - window
    return sum(1 for c in changes if lo < c <= at)


def is_flapping(changes: Iterable[datetime], now: datetime, *,
                threshold: int = DEFAULT_THRESHOLD, window: timedelta = DEFAULT_WINDOW,
                quiet: timedelta | None = None) -> bool:
    """Whether an alert with these state-change times (any order; those after ``now`` are
    ignored) is flapping at ``now``, from its whole history."""
    quiet = _policy(threshold, window, quiet)
    now = _aware(now, "now")
    seen: list[datetime] = []
    on = False
    for c in sorted(_aware(c, "changes") for c in changes):
        if c > now:
            break
        if on and c - seen[-1] >= quiet:
            on = False
        seen.append(c)
        if _count(seen, c, window) >= threshold:
            on = True
    if _count(seen, now, window) >= threshold:
        return True
    return on and now - seen[-1] < quiet


@dataclass(frozen=True, slots=True)
class FlapState:
    """An alert's recent state changes, oldest first: those within ``window`` of the last
    one and, while it is flapping, at least its last ``threshold`` (so the state also
    remembers that it was flapping: it was iff it holds ``threshold`` changes or more).
    Never more than :data:`MAX_KEPT`."""

    changes: tuple[datetime, ...] = ()

    def to_json(self) -> list[str]:
        return [c.isoformat() for c in self.changes]

    @classmethod
    def from_json(cls, data: Any) -> FlapState:
        """From :meth:`to_json`'s list (None or [] for a new alert)."""
        if not data:
            return cls()
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise InvalidInput("flap state: expected a list of ISO timestamps", field="flap")
        try:
            parsed = [datetime.fromisoformat(x) for x in data]
        except ValueError:
            raise InvalidInput("flap state: expected a list of ISO timestamps",
                               field="flap") from None
        return cls(tuple(sorted(c.replace(tzinfo=UTC) if c.tzinfo is None
                                else c.astimezone(UTC) for c in parsed))[-MAX_KEPT:])


def flapping(state: FlapState, now: datetime, *, threshold: int = DEFAULT_THRESHOLD,
             window: timedelta = DEFAULT_WINDOW, quiet: timedelta | None = None) -> bool:
    """Whether the alert is flapping at ``now``."""
    quiet = _policy(threshold, window, quiet)
    now = _aware(now, "now")
    changes = state.changes
    if not changes:
        return False
    if _count(changes, now, window) >= threshold:
        return True
    return len(changes) >= threshold and now - changes[-1] < quiet


def record(state: FlapState, at: datetime, *, threshold: int = DEFAULT_THRESHOLD,
           window: timedelta = DEFAULT_WINDOW, quiet: timedelta | None = None) -> FlapState:
    """The state after a change at ``at``. A change older than the last one (clock skew
    between nodes) is counted at the last one's time, so the state stays ordered."""
    quiet = _policy(threshold, window, quiet)
    at = _aware(at, "at")
    old = state.changes
    if old and at < old[-1]:
        at = old[-1]
    changes = (*old, at)
    was = len(old) >= threshold and at - old[-1] < quiet
    now_on = was or _count(changes, at, window) >= threshold
    recent = [c for c in changes if c > at - window]
    if now_on and len(recent) < threshold:
        recent = list(changes[-threshold:])
    return FlapState(tuple(recent[-MAX_KEPT:]))
