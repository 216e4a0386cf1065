"""Flapping detection, table-driven: state-change times in, a verdict out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import InvalidInput
from vigil.muting.flapping import (
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    MAX_KEPT,
    FlapState,
    flapping,
    is_flapping,
    record,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fold(minutes: Sequence[float], **policy: object) -> FlapState:
    state = FlapState()
    for m in minutes:
        state = record(state, at(m), **policy)  # type: ignore[arg-type]
    return state


FIVE_IN_20 = [0, 5, 10, 15, 20]

# Defaults: 5 changes (more than 4) within 30 minutes start it; 30 quiet minutes end it.
CASES = [
    ([], 0, False),
    ([0, 5, 10, 15], 20, False),              # 4 changes: not yet
    (FIVE_IN_20, 20, True),                   # the 5th change starts it
    (FIVE_IN_20, 19.99, False),               # ...not before it happens
    ([0, 7.5, 15, 22.5, 29.99], 29.99, True),  # 5 inside 30 minutes
    ([0, 7.5, 15, 22.5, 30], 30, False),      # 5 spanning exactly 30: the first is out
    (FIVE_IN_20, 30, True),                   # the first ages out, but it is not yet quiet
    (FIVE_IN_20, 49.99, True),                # still within 30 minutes of the last change
    (FIVE_IN_20, 50, False),                  # 30 quiet minutes: stopped
    ([*FIVE_IN_20, 45], 74.99, True),         # a slow change before the quiet ran out keeps it
    ([*FIVE_IN_20, 45], 75, False),
    ([*FIVE_IN_20, 50], 55, False),           # the change after the quiet period is a new start
    ([*FIVE_IN_20, 50, 55, 60, 65, 70], 70, True),  # ...and five more start it again
    ([0, 0, 0, 0, 0], 0, True),               # simultaneous changes count
    ([20, 15, 10, 5, 0], 20, True),           # any order
]


@pytest.mark.parametrize(("changes", "now", "expected"), CASES)
def test_is_flapping_with_defaults(changes: list[float], now: float, expected: bool) -> None:
    assert is_flapping([at(m) for m in changes], at(now)) is expected


@pytest.mark.parametrize(("changes", "now", "expected"), CASES)
def test_the_kept_state_agrees(changes: list[float], now: float, expected: bool) -> None:
    assert flapping(fold(sorted(m for m in changes if m <= now)), at(now)) is expected


def test_changes_after_now_are_ignored() -> None:
    assert not is_flapping([at(m) for m in FIVE_IN_20], at(10))


@pytest.mark.parametrize(("threshold", "window", "quiet", "changes", "now", "expected"), [
    (3, timedelta(minutes=10), None, [0, 4, 8], 8, True),
    (3, timedelta(minutes=10), None, [0, 5, 10], 10, False),  # the first is exactly 10 ago
    (3, timedelta(minutes=10), None, [0, 4, 8], 17.99, True),
    (3, timedelta(minutes=10), None, [0, 4, 8], 18, False),
    # A shorter quiet period: stops once it is quiet *and* the rate has dropped.
    (3, timedelta(minutes=10), timedelta(minutes=1), [0, 4, 8], 9.99, True),  # rate still 3
    (3, timedelta(minutes=10), timedelta(minutes=1), [0, 4, 8], 10, False),
    # A longer one holds it.
    (3, timedelta(minutes=10), timedelta(hours=1), [0, 4, 8], 67.99, True),
    (3, timedelta(minutes=10), timedelta(hours=1), [0, 4, 8], 68, False),
    (10, timedelta(hours=1), None, list(range(0, 54, 6)), 48, False),  # 9 of 10
])
def test_parameters(threshold: int, window: timedelta, quiet: timedelta | None,
                    changes: list[float], now: float, expected: bool) -> None:
    times = [at(m) for m in changes]
    assert is_flapping(times, at(now), threshold=threshold, window=window,
                       quiet=quiet) is expected
    state = fold(changes, threshold=threshold, window=window, quiet=quiet)
    assert flapping(state, at(now), threshold=threshold, window=window,
                    quiet=quiet) is expected


def test_state_keeps_only_the_window_while_calm() -> None:
    state = fold([0, 40, 80, 120])
    assert state.changes == (at(120),)
    state = fold([0, 10, 20, 30, 35])  # the one at 0 is out of the window at 35
    assert state.changes == (at(10), at(20), at(30), at(35))


def test_state_while_flapping_keeps_enough_to_remember_it() -> None:
    # Flapping, then slow changes: the window holds 1-2 of them, yet it is still flapping.
    state = fold([*FIVE_IN_20, 45, 70, 95])
    assert len(state.changes) >= DEFAULT_THRESHOLD
    assert flapping(state, at(124.99))
    assert not flapping(state, at(125))


def test_state_is_bounded() -> None:
    state = fold([i * 0.1 for i in range(500)])
    assert len(state.changes) == MAX_KEPT
    assert flapping(state, at(50))


def test_state_round_trips_as_a_json_list_of_iso_timestamps() -> None:
    state = fold(FIVE_IN_20)
    text = json.dumps(state.to_json())
    assert json.loads(text) == [at(m).isoformat() for m in FIVE_IN_20]
    assert FlapState.from_json(json.loads(text)) == state
    assert FlapState.from_json(None) == FlapState() == FlapState.from_json([])


def test_a_late_change_is_counted_at_the_latest_time() -> None:
    state = record(fold([0, 10]), at(5))
    assert state.changes == (at(0), at(10), at(10))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"threshold": 1}, "threshold"),
    ({"threshold": MAX_KEPT + 1}, "threshold"),
    ({"threshold": True}, "threshold"),
    ({"window": timedelta(0)}, "window"),
    ({"quiet": timedelta(minutes=-1)}, "quiet"),
])
def test_bad_parameters(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        is_flapping([], T0, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


@pytest.mark.parametrize("data", ["2026-03-01T12:00:00Z", [1, 2], ["yesterday"]])
def test_bad_stored_state(data: object) -> None:
    with pytest.raises(InvalidInput):
        FlapState.from_json(data)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        is_flapping([], datetime(2026, 3, 1))  # noqa: DTZ001


@settings(max_examples=300, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=40), max_size=40),
    later=st.integers(min_value=0, max_value=90),
    threshold=st.integers(min_value=2, max_value=6),
    window=st.integers(min_value=1, max_value=45),
    quiet=st.one_of(st.none(), st.integers(min_value=0, max_value=60)),
)
def test_the_bounded_state_agrees_with_the_whole_history(
        gaps: list[int], later: int, threshold: int, window: int, quiet: int | None) -> None:
    policy = {"threshold": threshold, "window": timedelta(minutes=window),
              "quiet": None if quiet is None else timedelta(minutes=quiet)}
    minutes = [sum(gaps[:i + 1]) for i in range(len(gaps))]
    state = fold(minutes, **policy)
    assert len(state.changes) <= MAX_KEPT
    now = at((minutes[-1] if minutes else 0) + later)
    assert flapping(state, now, **policy) is is_flapping(  # type: ignore[arg-type]
        [at(m) for m in minutes], now, **policy)  # type: ignore[arg-type]


def test_defaults_are_documented_values() -> None:
    assert DEFAULT_THRESHOLD == 5
    assert timedelta(minutes=30) == DEFAULT_WINDOW
