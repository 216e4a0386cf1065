"""Property tests for every inbound parser: whatever JSON arrives, a parser either returns
well-formed, fingerprintable AlertEvents or raises InvalidInput naming a field. Never any
other exception: anything else is an HTTP 500 for a sender's mistake.

Inputs are random JSON values and random mutations (drop a key or element, replace a value,
add a key) of the captured fixtures, at random depth.

Timestamps reach year 9999 with any offset: ``9999-12-31T23:00:00-05:00`` once raised
OverflowError (a 500); it is now a 422 naming the field.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.errors import InvalidInput
from vigil.integrations.alertmanager import parser as alertmanager
from vigil.integrations.generic import parser as generic
from vigil.integrations.grafana import parser as grafana
from vigil.integrations.opsgenie import parser as opsgenie
from vigil.integrations.pagerduty import parser as pagerduty

PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- strategies ----------------------------------------------------------------------------

#: The JSON values of the brief: null, bools, ints, finite floats, text, lists, objects.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
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
#: ISO 8601 timestamps, naive or with any whole-minute offset; year <= 9998 (see above).
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


# --- the parsers under test ----------------------------------------------------------------

#: A mapping with nested paths, a filter and a custom resolve vocabulary.
MAPPING: dict[str, Any] = {
    "title": "$.msg",
    "severity": "$.alert_priority",
    "dedup_key": "$.monitor.id",
    "service": "$.monitor.name",
    "status": "$.heartbeat.status",
    "description": "$.heartbeat",
    "environment": "$.monitor.tags[?(@.name=='env')].value",
    "labels": "$.monitor.tags",
    "url": "$.monitor.url",
    "resolve_values": ["1"],
}


def _pagerduty(payload: Any) -> list[AlertEvent]:
    event = pagerduty.parse_event(payload)
    assert isinstance(payload, dict)
    # (The key a trigger without one gets is random: a fixed one keeps this deterministic.)
    return [pagerduty.to_alert_event(event, payload, new_key=lambda: "0" * 32)]


Target = Callable[[Any], list[AlertEvent]]

TARGETS: dict[str, tuple[Target, list[Any]]] = {
    "alertmanager": (lambda p: alertmanager.parse(p, {}),
                     FIXTURE_PAYLOADS["alertmanager"] + FIXTURE_PAYLOADS["grafana"]),
    "grafana": (lambda p: grafana.parse(p, {}),
                FIXTURE_PAYLOADS["grafana"] + FIXTURE_PAYLOADS["alertmanager"]),
    "generic-default": (lambda p: generic.parse(p, {}), FIXTURE_PAYLOADS["generic"]),
    "generic-mapping": (lambda p: generic.parse(p, MAPPING), FIXTURE_PAYLOADS["generic"]),
    "pagerduty": (_pagerduty, FIXTURE_PAYLOADS["pagerduty"]),
    "opsgenie-create": (lambda p: [opsgenie.parse_create(p)], OG_CREATE),
}


# --- the property -----------------------------------------------------------------------------


def check_invalid(exc: InvalidInput) -> None:
    assert isinstance(exc.field, str) and exc.field, exc
    assert exc.status_code == 422
    assert exc.message
    for detail in exc.details:
        assert isinstance(detail["field"], str) and detail["field"]


def check_utc(value: datetime | None) -> None:
    if value is not None:
        assert isinstance(value, datetime)
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0), value


def check_event(ev: AlertEvent) -> None:
    assert isinstance(ev, AlertEvent)
    assert isinstance(ev.action, Action)
    assert isinstance(ev.severity, Severity)
    assert isinstance(ev.name, str) and ev.name and len(ev.name) <= 512
    assert isinstance(ev.summary, str)
    assert ev.dedup_key is None or (isinstance(ev.dedup_key, str) and ev.dedup_key)
    for opt in (ev.description, ev.service, ev.environment, ev.actor):
        assert opt is None or isinstance(opt, str)
    for mapping in (ev.labels, ev.annotations):
        assert isinstance(mapping, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
    for lnk in ev.links:
        assert isinstance(lnk["href"], str) and lnk["href"]
        assert isinstance(lnk["text"], str)
    check_utc(ev.starts_at)
    check_utc(ev.ends_at)
    assert isinstance(ev.raw, dict)
    fp = fingerprint(ev, integration_id=1)
    assert len(fp) == 64
    assert fp != fingerprint(ev, integration_id=2)


def holds(target: Target, payload: Any) -> None:
    before = copy.deepcopy(payload)
    try:
        events = target(payload)
    except InvalidInput as exc:
        check_invalid(exc)
        assert payload == before, "the parser changed its input"
        return
    assert payload == before, "the parser changed its input"
    assert isinstance(events, list) and events
    for ev in events:
        check_event(ev)
    # Deterministic: the same payload again gives equal events and fingerprints.
    again = target(copy.deepcopy(payload))
    assert again == events


def holds_for_action(payload: Any) -> None:
    try:
        act = opsgenie.parse_action(payload)
    except InvalidInput as exc:
        check_invalid(exc)
        return
    assert isinstance(act, opsgenie.OGAction)
    for value in (act.user, act.source, act.note):
        assert value is None or isinstance(value, str)


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TARGETS))
@PROPERTY
@given(payload=json_values | rich_values)
def test_random_json(name: str, payload: Any) -> None:
    holds(TARGETS[name][0], payload)


@pytest.mark.parametrize("name", sorted(TARGETS))
@PROPERTY
@given(data=st.data())
def test_mutated_fixtures(name: str, data: st.DataObject) -> None:
    target, bases = TARGETS[name]
    holds(target, data.draw(mutations(bases), label="payload"))


@PROPERTY
@given(payload=json_values | rich_values)
def test_opsgenie_action_random_json(payload: Any) -> None:
    holds_for_action(payload)


@PROPERTY
@given(payload=mutations(OG_ACTION + OG_CREATE))
def test_opsgenie_action_mutated_fixtures(payload: Any) -> None:
    holds_for_action(payload)


@PROPERTY
@given(payload=mutations([p for ps in FIXTURE_PAYLOADS.values() for p in ps]))
def test_every_parser_on_mutations_of_every_format(payload: Any) -> None:
    for target, _ in TARGETS.values():
        holds(target, payload)
    holds_for_action(payload)


ALL_PAYLOADS = [(f"{kind}/{i}", p) for kind, ps in FIXTURE_PAYLOADS.items()
                for i, p in enumerate(ps)]


@pytest.mark.parametrize("name", sorted(TARGETS))
@pytest.mark.parametrize(("fixture", "payload"), ALL_PAYLOADS, ids=[n for n, _ in ALL_PAYLOADS])
def test_every_fixture_to_every_parser(name: str, fixture: str, payload: Any) -> None:
    holds(TARGETS[name][0], payload)
    holds_for_action(payload)


def test_fixtures_were_loaded() -> None:
    assert set(FIXTURE_PAYLOADS) == {"alertmanager", "grafana", "generic", "pagerduty",
                                     "opsgenie"}
    assert OG_CREATE and OG_ACTION
