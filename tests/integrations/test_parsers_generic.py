"""The generic JSON parser: field mappings (Uptime Kuma, Datadog, arrays, JSONPath), the
resolve and acknowledge vocabulary, default paths, derived keys, mapping validation and
bad input.

Expected values are read from the payloads themselves or spelled out literally, never from
the parser under test.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from parser_cases import (
    ARRAY_MAPPING,
    DATADOG_MAPPING,
    KUMA_MAPPING,
    assert_invalid,
    load,
)

from vigil.core.event import Action
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.errors import InvalidInput
from vigil.integrations.generic import parser as generic

# --- generic --------------------------------------------------------------------------------


def test_generic_array_gives_one_event_per_element() -> None:
    payload = load("generic", "array_of_alerts.json")
    for config in (ARRAY_MAPPING, {}):  # the array's fields are also the default paths
        events = generic.parse(payload, config)
        assert len(events) == len(payload) == 3
        assert [e.name for e in events] == ["API 5xx rate above 5%", "Queue depth above 10k",
                                            "Certificate expires in 7 days"]
        assert [e.severity for e in events] == [Severity.CRITICAL, Severity.WARNING,
                                                Severity.INFO]
        assert [e.dedup_key for e in events] == ["chk-1001", "chk-1002", "chk-1003"]
        assert [e.service for e in events] == ["api-gateway", "order-worker", "www"]
        assert [e.action for e in events] == [Action.TRIGGER] * 3
        assert [e.raw for e in events] == payload


def test_generic_uptime_kuma_down_and_up() -> None:
    down = generic.parse(load("generic", "uptime_kuma_down.json"), KUMA_MAPPING)
    up = generic.parse(load("generic", "uptime_kuma_up.json"), KUMA_MAPPING)
    assert len(down) == len(up) == 1
    assert down[0].action == Action.TRIGGER
    assert up[0].action == Action.RESOLVE
    assert down[0].name == "[Shop frontend] [🔴 Down] Request failed with status code 503"
    assert up[0].name == "[Shop frontend] [✅ Up] 200 - OK"
    assert down[0].dedup_key == up[0].dedup_key == "3"
    assert down[0].service == "Shop frontend"
    assert down[0].severity == Severity.WARNING  # Uptime Kuma has no severity
    assert down[0].links == [{"href": "https://shop.example.com/health", "text": "Source"}]
    assert fingerprint(down[0], integration_id=3) == fingerprint(up[0], integration_id=3)


def test_generic_uptime_kuma_needs_a_title_mapping() -> None:
    with pytest.raises(InvalidInput) as err:
        generic.parse(load("generic", "uptime_kuma_down.json"), {})
    assert err.value.field == "body.title"


def test_generic_jsonpath_filter_mapping() -> None:
    config = {**KUMA_MAPPING, "environment": "$.monitor.tags[?(@.name=='env')].value"}
    (ev,) = generic.parse(load("generic", "uptime_kuma_down.json"), config)
    assert ev.environment == "prod"


def test_generic_datadog_triggered_and_recovered() -> None:
    trig = generic.parse(load("generic", "datadog_triggered.json"), DATADOG_MAPPING)[0]
    rec = generic.parse(load("generic", "datadog_recovered.json"), DATADOG_MAPPING)[0]
    assert (trig.action, rec.action) == (Action.TRIGGER, Action.RESOLVE)
    assert trig.name == rec.name == "High CPU on web hosts"
    assert trig.severity == rec.severity == Severity.HIGH  # alert_priority P2
    assert trig.dedup_key == rec.dedup_key == "7306410538496393318"
    assert trig.service == "web-03"
    assert trig.description is not None and "CPU usage on web-03 is above 90%" in (
        trig.description)  # $.body is a default description path
    assert fingerprint(trig, integration_id=4) == fingerprint(rec, integration_id=4)


def test_generic_datadog_alert_type_as_severity() -> None:
    config = {**DATADOG_MAPPING, "severity": "$.alert_type"}
    (ev,) = generic.parse(load("generic", "datadog_triggered.json"), config)
    assert ev.severity == Severity.HIGH  # "error"


@pytest.mark.parametrize("word", ["resolved", "RESOLVED", "Resolve", "ok", "OK", "closed",
                                  "close", "recovered", "Recovered", "up", "normal", "inactive",
                                  "green", "success", " resolved "])
def test_generic_resolve_words(word: object) -> None:
    (ev,) = generic.parse({"title": "t", "status": word}, {})
    assert ev.action == Action.RESOLVE


@pytest.mark.parametrize("word", ["false", "0", False, 0, "1", True, "firing", "down"])
def test_generic_numbers_and_booleans_trigger_unless_configured(word: object) -> None:
    (ev,) = generic.parse({"title": "t", "status": word}, {})
    assert ev.action == Action.TRIGGER


@pytest.mark.parametrize("word", ["acknowledged", "ACK", "acknowledge"])
def test_generic_acknowledge_words(word: str) -> None:
    (ev,) = generic.parse({"title": "t", "state": word}, {})
    assert ev.action == Action.ACKNOWLEDGE


@pytest.mark.parametrize("word", ["firing", "alerting", "down", "critical", "true", True, 1,
                                  "unresolved", None])
def test_generic_other_words_trigger(word: object) -> None:
    (ev,) = generic.parse({"title": "t", "status": word}, {})
    assert ev.action == Action.TRIGGER


def test_generic_custom_resolve_values() -> None:
    config = {"status": "$.s", "resolve_values": ["Fixed"], "acknowledge_values": ["seen"]}
    assert generic.parse({"title": "t", "s": "fixed"}, config)[0].action == Action.RESOLVE
    assert generic.parse({"title": "t", "s": "SEEN"}, config)[0].action == Action.ACKNOWLEDGE
    assert generic.parse({"title": "t", "s": "resolved"}, config)[0].action == Action.TRIGGER


def test_generic_default_paths() -> None:
    (ev,) = generic.parse({"name": "N", "level": "crit", "fingerprint": "fp-1",
                           "component": "db", "env": "prod", "tags": ["a", "b"],
                           "link": "https://x", "text": "details"}, {})
    assert ev.name == "N"
    assert ev.severity == Severity.CRITICAL
    assert ev.dedup_key == "fp-1"
    assert ev.service == "db"
    assert ev.environment == "prod"
    assert ev.labels == {"a": "", "b": ""}
    assert ev.links == [{"href": "https://x", "text": "Source"}]
    assert ev.description == "details"


def test_generic_without_key_derives_a_stable_one() -> None:
    body = {"title": "Disk full", "service": "db", "labels": {"host": "h1"}}
    a = generic.parse(copy.deepcopy(body), {})[0]
    b = generic.parse(copy.deepcopy(body), {})[0]
    c = generic.parse({**body, "labels": {"host": "h2"}}, {})[0]
    d = generic.parse({**body, "service": "web"}, {})[0]
    assert a.dedup_key is not None and a.dedup_key.startswith("vigil-")
    assert a.dedup_key == b.dedup_key
    assert len({a.dedup_key, c.dedup_key, d.dedup_key}) == 3


def test_generic_validate_config_keeps_the_mapping() -> None:
    out = generic.validate_config(KUMA_MAPPING)
    for key, value in KUMA_MAPPING.items():
        assert out[key] == value


GENERIC_BAD: list[tuple[Any, dict[str, Any], str]] = [
    ("text", {}, "body"),
    (5, {}, "body"),
    (None, {}, "body"),
    (True, {}, "body"),
    ([], {}, "body"),
    ([1], {}, "[0]"),
    ([{"title": "a"}, 5], {}, "[1]"),
    ({}, {}, "body.title"),
    ({"title": ""}, {}, "body.title"),
    ({"title": None}, {}, "body.title"),
    ({"title": {"a": 1}}, {}, "body.title"),
    ({"title": [1]}, {}, "body.title"),
    ({"title": "t"}, {"title": "$.msg"}, "body.title"),
    ([{"title": "a"}, {}], {}, "[1].title"),
    ([{}, {"title": "b"}], {}, "[0].title"),
    ([{"title": "a"}, {"title": {"x": 1}}], {}, "[1].title"),
]


@pytest.mark.parametrize(("payload", "config", "field"), GENERIC_BAD)
def test_generic_bad_input(payload: Any, config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        generic.parse(payload, config)
    assert err.value.status_code == 422
    assert err.value.field == field


def test_generic_bad_fixture_element_names_its_index() -> None:
    payload = load("generic", "array_of_alerts.json")
    del payload[2]["title"]
    with pytest.raises(InvalidInput) as err:
        generic.parse(payload, ARRAY_MAPPING)
    assert err.value.field == "[2].title"


@pytest.mark.parametrize(("config", "field"), [
    ({"title": "$["}, "config.title"),
    ({"severity": "$.[?(@.a =="}, "config.severity"),
    ({"title": 5}, "config.title"),
    ({"bogus": "$.x"}, "config.bogus"),
    ({"resolve_values": "x"}, "config.resolve_values"),
    ({"acknowledge_values": [1]}, "config.acknowledge_values[0]"),
])
def test_generic_validate_config_bad(config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        generic.validate_config(config)
    assert_invalid(err.value, field)
