"""The Opsgenie Alert API parser: create bodies (priorities, aliases, details, tags), the
acknowledge and close action bodies, Alertmanager's Opsgenie receiver, and bad input.

Expected values are read from the payloads themselves or spelled out literally, never from
the parser under test.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from parser_cases import (
    OG_PRIORITY,
    assert_invalid,
    load,
)

from vigil.core.event import Action
from vigil.core.severity import Severity
from vigil.errors import InvalidInput
from vigil.integrations.opsgenie import parser as opsgenie

# --- Opsgenie -------------------------------------------------------------------------------


def test_opsgenie_create_uses_every_field() -> None:
    ev = opsgenie.parse_create(load("opsgenie", "create.json"))
    assert ev.action == Action.TRIGGER
    assert ev.dedup_key == "db-primary-01/disk-usage"
    assert ev.name == "Disk usage above 90% on db-primary-01"
    assert ev.severity == Severity.CRITICAL  # P1
    assert ev.description == (
        "Filesystem /var/lib/postgresql on db-primary-01 is 93% full (threshold 90%)."
    )
    assert ev.annotations == {"host": "db-primary-01", "mount": "/var/lib/postgresql",
                              "usage": "93%", "tags": "OverwriteQuietHours,Critical,database",
                              "entity": "db-primary-01"}
    assert ev.labels == {"message": "Disk usage above 90% on db-primary-01",
                         "entity": "db-primary-01", "source": "Example Monitoring"}
    assert ev.service == "db-primary-01"
    assert ev.actor == "Monitoring Bot"


def test_opsgenie_create_from_alertmanager() -> None:
    ev = opsgenie.parse_create(load("opsgenie", "alertmanager_create.json"))
    assert ev.dedup_key == "d9ee7e5b7729904d629f4ba49c6ed4af0bb4f6c5518d1be5bd7fc26c5af6bc91"
    assert ev.severity == Severity.WARNING  # no priority: Opsgenie's default P3
    assert ev.name == "[FIRING:1] CyclingAlert (vigil-e2e staging payments warning)"
    assert ev.annotations == {"alertname": "CyclingAlert", "cluster": "vigil-e2e",
                              "env": "staging", "service": "payments", "severity": "warning"}
    assert ev.service == "payments"
    assert ev.environment == "staging"
    assert "tags" not in ev.annotations
    assert ev.actor is None


def test_alertmanager_keys_pagerduty_and_opsgenie_by_sha256_of_group_key() -> None:
    group_key = load("alertmanager", "cycling_firing.json")["groupKey"]
    digest = hashlib.sha256(group_key.encode()).hexdigest()
    assert load("pagerduty", "alertmanager_trigger.json")["dedup_key"] == digest
    assert opsgenie.parse_create(load("opsgenie", "alertmanager_create.json")).dedup_key == digest


@pytest.mark.parametrize(("priority", "severity"), list(OG_PRIORITY.items()))
def test_opsgenie_priority_mapping(priority: str, severity: Severity) -> None:
    payload = load("opsgenie", "create.json")
    payload["priority"] = priority
    assert opsgenie.parse_create(payload).severity == severity


def test_opsgenie_create_without_alias_gets_a_stable_derived_key() -> None:
    payload = load("opsgenie", "create.json")
    del payload["alias"]
    a = opsgenie.parse_create(copy.deepcopy(payload))
    b = opsgenie.parse_create(copy.deepcopy(payload))
    assert a.dedup_key is not None and a.dedup_key.startswith("vigil-")
    assert a.dedup_key == b.dedup_key
    payload["entity"] = "db-primary-02"
    assert opsgenie.parse_create(payload).dedup_key != a.dedup_key


def test_opsgenie_details_environment_and_non_string_values() -> None:
    ev = opsgenie.parse_create({"message": "m", "details": {"env": "qa", "n": 3, "o": {"a": 1}}})
    assert ev.environment == "qa"
    assert ev.annotations["n"] == "3"
    assert json.loads(ev.annotations["o"]) == {"a": 1}


@pytest.mark.parametrize("name", ["acknowledge.json", "close.json"])
def test_opsgenie_action_bodies(name: str) -> None:
    payload = load("opsgenie", name)
    act = opsgenie.parse_action(payload)
    assert act.user == "Jane Doe"
    assert act.source == "Vigil"
    assert act.note == payload["note"]


def test_opsgenie_close_from_alertmanager() -> None:
    act = opsgenie.parse_action(load("opsgenie", "alertmanager_close.json"))
    assert act.source == "http://127.0.0.1:19093/#/alerts?receiver=vigil-opsgenie"
    assert act.user is None and act.note is None


def test_opsgenie_action_accepts_no_body() -> None:
    act = opsgenie.parse_action(None)
    assert (act.user, act.source, act.note) == (None, None, None)


OG_BAD: list[tuple[Any, str]] = [
    ({}, "message"),
    ([], "body"),
    ("text", "body"),
    (None, "body"),
    ({"message": ""}, "message"),
    ({"message": 5}, "message"),
    ({"message": "m" * 131}, "message"),
    ({"message": "m", "priority": "P6"}, "priority"),
    ({"message": "m", "priority": "p1"}, "priority"),
    ({"message": "m", "priority": 1}, "priority"),
    ({"message": "m", "tags": ["t"] * 21}, "tags"),
    ({"message": "m", "tags": "a,b"}, "tags"),
    ({"message": "m", "tags": ["a", 1]}, "tags[1]"),
    ({"message": "m", "details": "x"}, "details"),
    ({"message": "m", "alias": "a" * 513}, "alias"),
    ({"message": "m", "description": "d" * 15001}, "description"),
    ({"message": "m", "user": ["u"]}, "user"),
]


@pytest.mark.parametrize(("payload", "field"), OG_BAD)
def test_opsgenie_create_bad_input(payload: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        opsgenie.parse_create(payload)
    assert_invalid(err.value, field)


@pytest.mark.parametrize(("payload", "field"), [
    ([], "body"),
    ("text", "body"),
    (3, "body"),
    ({"user": 5}, "user"),
    ({"source": {}}, "source"),
    ({"note": "n" * 25001}, "note"),
])
def test_opsgenie_action_bad_input(payload: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        opsgenie.parse_action(payload)
    assert_invalid(err.value, field)
