"""The pure on-call core, parsing: a schedule definition from a mapping, and validation errors
that name the field.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import time
from typing import Any

import pytest
from schedule_cases import (
    BERLIN,
    u,
    wall,
)

from vigil.errors import InvalidInput
from vigil.oncall.schedules.definition import (
    Layer,
    Override,
    OverrideKind,
    Rotation,
    Schedule,
    Shift,
    Swap,
    SwapState,
    TemporarySchedule,
    Unit,
    Window,
    business_hours,
)
from vigil.oncall.schedules.parse import parse_schedule
from vigil.oncall.schedules.shifts import (
    on_call_at,
)

# --- validation ----------------------------------------------------------------------------

VALID: dict[str, Any] = {
    "name": "primary",
    "time_zone": "Europe/Berlin",
    "layers": [
        {"name": "base",
         "rotation": {"type": "daily", "start": "2024-01-01", "handoff": "09:00",
                      "participants": ["a", "b", "c"]}},
        {"name": "day",
         "rotation": {"type": "custom", "length": "12h", "start": "2024-01-01T09:00",
                      "participants": ["x"], "end": "2025-01-01T00:00"},
         "restrictions": ["business_hours", {"day": "sat", "start": "22:00", "end": "24:00"}]},
    ],
    "overrides": [{"type": "replace", "user": "d", "replaces": "a",
                   "start": "2024-01-01T18:00:00Z", "end": "2024-01-01T20:00:00+00:00"}],
    "temporary": [{"start": "2024-02-01T00:00Z", "end": "2024-02-02T00:00Z",
                   "shifts": [{"user": "t", "start": "2024-02-01T00:00Z",
                               "end": "2024-02-01T12:00Z"}]}],
    "swaps": [{"id": "s1", "requester": "b", "counterpart": "c", "state": "accepted",
               "start": "2024-01-02T08:00Z", "end": "2024-01-03T08:00Z"}],
}


def test_parse_valid_schedule() -> None:
    sched = parse_schedule(copy.deepcopy(VALID))
    assert sched == Schedule(
        "primary", BERLIN,
        (Layer("base", Rotation(("a", "b", "c"), wall(2024, 1, 1, 9))),
         Layer("day", Rotation(("x",), wall(2024, 1, 1, 9), Unit.HOUR, 12,
                               end=wall(2025, 1, 1)),
               (*business_hours(), Window(5, time(22), time(0))))),
        (Override(OverrideKind.REPLACE, "d", u(2024, 1, 1, 18), u(2024, 1, 1, 20), "a"),),
        (TemporarySchedule(u(2024, 2, 1), u(2024, 2, 2),
                           (Shift("t", u(2024, 2, 1), u(2024, 2, 1, 12)),)),),
        (Swap("s1", "b", "c", u(2024, 1, 2, 8), u(2024, 1, 3, 8), state=SwapState.ACCEPTED),),
    )
    assert on_call_at(sched, u(2024, 1, 1, 11)) == ["x"]  # business hours: top layer
    assert on_call_at(sched, u(2024, 1, 1, 19)) == ["d"]  # a's evening, replaced
    assert on_call_at(sched, u(2024, 1, 2, 19)) == ["c"]  # b's evening, swapped
    assert on_call_at(sched, u(2024, 1, 6, 22, 30)) == ["x"]  # Saturday 23:30 local


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or, for value ``...``, delete) a dotted path with [i] indices."""
    def apply(data: dict[str, Any]) -> None:
        keys: list[Any] = []
        for part in path.split("."):
            name, _, rest = part.partition("[")
            keys.append(name)
            keys.extend(int(i) for i in rest.rstrip("]").split("][") if i)
        target: Any = data
        for key in keys[:-1]:
            target = target[key]
        if value is ...:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return apply


L0R = "layers[0].rotation"


INVALID = [
    ("time_zone", "Mars/Olympus", "time_zone"),
    ("time_zone", "", "time_zone"),
    ("layers", [], "layers"),
    (f"{L0R}.participants", [], f"{L0R}.participants"),
    (f"{L0R}.participants", ["a", " "], f"{L0R}.participants[1]"),
    (f"{L0R}.handoff", "9am", f"{L0R}.handoff"),
    (f"{L0R}.handoff", "25:00", f"{L0R}.handoff"),
    (f"{L0R}.start", "2024-13-01", f"{L0R}.start"),
    (f"{L0R}.start", "2024-01-01T09:00+01:00", f"{L0R}.start"),
    (f"{L0R}.start", ..., f"{L0R}.start"),
    (f"{L0R}.end", "2023-12-31", f"{L0R}.end"),
    (f"{L0R}.type", "fortnightly", f"{L0R}.type"),
    (f"{L0R}.length", 0, f"{L0R}.length"),
    (f"{L0R}.length", -2, f"{L0R}.length"),
    (f"{L0R}.length", "12h", f"{L0R}.length"),
    ("layers[1].rotation.length", "0h", "layers[1].rotation.length"),
    ("layers[1].rotation.length", "12 parsecs", "layers[1].rotation.length"),
    ("layers[1].rotation.length", ..., "layers[1].rotation.length"),
    (f"{L0R}.participant", ["a"], f"{L0R}.participant"),
    ("layers[1].restrictions[1].day", "funday", "layers[1].restrictions[1].day"),
    ("layers[1].restrictions[1].start", 1020, "layers[1].restrictions[1].start"),
    ("layers[1].restrictions[1].end", "17:60", "layers[1].restrictions[1].end"),
    ("layers[1].restrictions[0]", "evenings", "layers[1].restrictions[0]"),
    ("overrides[0].end", "2024-01-01T09:00:00Z", "overrides[0].end"),
    ("overrides[0].start", "2024-01-01T10:00:00", "overrides[0].start"),
    ("overrides[0].type", "swap", "overrides[0].type"),
    ("overrides[0].user", None, "overrides[0].user"),
    ("temporary[0].shifts[0].end", "2024-01-31T00:00Z", "temporary[0].shifts[0].end"),
    ("swaps[0].counterpart", "b", "swaps[0].counterpart"),
    ("swaps[0].state", "maybe", "swaps[0].state"),
]


@pytest.mark.parametrize(("path", "value", "field"), INVALID)
def test_validation_names_the_field(path: str, value: Any, field: str) -> None:
    data = copy.deepcopy(VALID)
    _set(path, value)(data)
    with pytest.raises(InvalidInput) as caught:
        parse_schedule(data)
    assert caught.value.field == field, caught.value.message


def test_replaces_only_on_replace_overrides() -> None:
    data = copy.deepcopy(VALID)
    data["overrides"][0]["type"] = "add"
    with pytest.raises(InvalidInput) as caught:
        parse_schedule(data)
    assert caught.value.field == "overrides[0].replaces"


def test_validation_of_non_mapping_input() -> None:
    with pytest.raises(InvalidInput):
        parse_schedule(["not", "a", "schedule"])
