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
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payload_mutations import (
    FIXTURE_PAYLOADS,
    OG_ACTION,
    OG_CREATE,
    mutations,
    rich_values,
    scalars,
)
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

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


#: ISO 8601 timestamps, naive or with any whole-minute offset; year <= 9998 (see above).


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
