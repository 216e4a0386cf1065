"""Captured payloads and hypothesis strategies that mutate them (the parsers' property
tests and the API fuzzer)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from conftest import FIXTURES

#: The JSON values of the brief: null, bools, ints, finite floats, text, lists, objects.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)

#: Words the parsers give meaning to, so random values often reach the interesting branches.
WORDS = [
    "firing", "resolved", "pending", "trigger", "acknowledge", "resolve", "critical", "error",
    "warning", "info", "low", "P1", "P3", "P5", "P6", "ok", "alerting", "recovered", "ack",
    "0", "1", "true", "", " ", "0001-01-01T00:00:00Z", "2026-11-22T17:15:00.345Z",
    "https://example.com/x",
]


KEYS = [
    "alerts", "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
    "alertname", "severity", "priority", "service", "env", "summary", "description",
    "runbook_url", "values", "valueString", "dashboardURL", "panelURL", "silenceURL",
    "imageURL", "routing_key", "event_action", "dedup_key", "payload", "source", "timestamp",
    "component", "group", "class", "custom_details", "links", "images", "href", "src",
    "client_url", "message", "alias", "tags", "details", "entity", "user", "note", "title",
    "name", "id", "state", "url", "msg", "monitor", "heartbeat",
]

offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda m: timezone(timedelta(minutes=m))
)

_FIRST, _LAST = datetime(1, 1, 1), datetime(9999, 12, 31)  # noqa: DTZ001 (bounds are naive)
timestamps = (
    st.datetimes(min_value=_FIRST, max_value=_LAST)
    | st.datetimes(min_value=_FIRST, max_value=_LAST, timezones=st.just(UTC) | offsets)
).map(lambda d: d.isoformat())

rich_scalars = scalars | st.sampled_from(WORDS) | timestamps

rich_values: st.SearchStrategy[Any] = st.recursive(
    rich_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5),
    max_leaves=12,
)


def _load_all() -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for path in sorted(FIXTURES.glob("*/fixtures/*.json")):
        if path.name.endswith(".meta.json"):
            continue
        out.setdefault(path.parent.parent.name, []).append(json.loads(path.read_bytes()))
    return out


FIXTURE_PAYLOADS = _load_all()


OG_CREATE = [p for p in FIXTURE_PAYLOADS["opsgenie"] if "message" in p]


OG_ACTION = [p for p in FIXTURE_PAYLOADS["opsgenie"] if "message" not in p]


def _mutate_once(draw: st.DrawFn, doc: Any) -> Any:
    """Walk down to a random depth, then drop, replace or add something there."""
    path: list[Any] = []
    node = doc
    while isinstance(node, dict | list) and node and draw(st.integers(0, 4)) > 0:
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict)
                                   else list(range(len(node)))))
        path.append(key)
        node = node[key]
    op = draw(st.sampled_from(["drop", "replace", "replace", "add"]))
    if op == "add" and isinstance(node, dict | list):
        value = draw(rich_values)
        if isinstance(node, dict):
            node[draw(st.sampled_from(KEYS) | st.text(max_size=8))] = value
        else:
            node.insert(draw(st.integers(0, len(node))), value)
        return doc
    if not path:
        return draw(rich_values) if op == "replace" else doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if op == "drop":
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(rich_values)
    return doc


@st.composite
def mutations(draw: st.DrawFn, bases: list[Any]) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 3))):
        doc = _mutate_once(draw, doc)
    return doc
