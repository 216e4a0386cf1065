"""The pure escalation core, parsing: policies from YAML and dicts, errors that name the exact
field, and the dataclasses' own validation.
"""

from __future__ import annotations

import copy
from datetime import time, timedelta
from typing import Any

import pytest
import yaml
from escalation_cases import (
    T0,
    run,
    user,
)

from vigil.errors import InvalidInput
from vigil.oncall.escalation.parse import parse_policy
from vigil.oncall.escalation.policy import (
    ActiveWindow,
    Conditions,
    Policy,
    Severity,
    Status,
    Step,
    Target,
    TargetKind,
    Urgency,
    select_policy,
    start,
)

# ---------------------------------------------------------------- parsing

EXAMPLE = """
# severity critical and status firing: escalate after 5 minutes to senior engineers
# via email and Slack
name: critical-firing
conditions:
  severities: [critical]
  statuses: [firing]
steps:
  - delay: 0
    targets:
      - team: on-call
  - delay: 5m
    targets:
      - team: senior-engineers
      - slack_channel: '#incidents'
"""


def test_yaml_example_parses_and_escalates() -> None:
    pol = parse_policy(yaml.safe_load(EXAMPLE))
    assert pol.conditions == Conditions(frozenset({Severity.CRITICAL}), frozenset({"firing"}))
    assert pol.applies("critical", "firing") and not pol.applies("high", "firing")
    assert not pol.applies("critical", "resolved")
    assert select_policy([pol], "critical", "firing") is pol
    assert select_policy([pol], "warning", "firing") is None
    assert [s.delay for s in pol.steps] == [timedelta(0), timedelta(minutes=5)]
    state, notes = run(pol, start(pol, T0), 0)
    assert [(n.target_kind, n.user_id) for n in notes] == [("team", "olga")]
    state, notes = run(pol, state, 5)
    assert [(n.target_kind, n.target_id, n.user_id) for n in notes] == [
        ("team", "senior-engineers", "sam"), ("team", "senior-engineers", "sue"),
        ("slack_channel", "#incidents", None)]
    assert state.status is Status.EXHAUSTED


FULL: dict[str, Any] = {
    "name": "full",
    "repeat": 2,
    "ack_timeout_minutes": 30,
    "conditions": {"severities": ["high", "critical"], "statuses": ["firing"]},
    "steps": [
        {"targets": [{"type": "schedule", "id": "primary"}], "multi_ack": True},
        {"delay_minutes": 10, "urgency": "low",
         "active_between": {"start": "09:00", "end": "18:00", "tz": "Europe/Berlin",
                            "days": ["mon", "tue", 2, "thu", "fri"]},
         "targets": [{"type": "round_robin", "id": "dbas", "users": ["ann", "ben"]},
                     {"round_robin": ["x", "y"]}, {"user": "zed"},
                     {"type": "webhook", "id": "hook-1"}]},
        {"delay": "1h30m", "targets": [{"type": "team", "id": "dbas"}]},
    ],
}


def test_full_dict_parses() -> None:
    pol = parse_policy(copy.deepcopy(FULL))
    assert pol.repeat == 2 and pol.ack_timeout == timedelta(minutes=30)
    assert [s.delay for s in pol.steps] == [timedelta(0), timedelta(minutes=10),
                                           timedelta(hours=1, minutes=30)]
    assert pol.steps[0].multi_ack and pol.steps[1].urgency is Urgency.LOW
    assert pol.steps[1].active_between == ActiveWindow(time(9), time(18), "Europe/Berlin",
                                                       (0, 1, 2, 3, 4))
    assert pol.steps[1].targets[:2] == (
        Target(TargetKind.ROUND_ROBIN, "dbas", ("ann", "ben")),
        Target(TargetKind.ROUND_ROBIN, users=("x", "y")))


def mutate(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(FULL)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(("path", "value", "field"), [
    (["steps", 1, "targets", 0, "type"], "pager", "steps[1].targets[0].type"),
    (["steps", 1, "targets", 2], {"pager": "zed"}, "steps[1].targets[2].type"),
    (["steps", 1, "targets", 2], {"id": "zed"}, "steps[1].targets[2].type"),
    (["steps", 1, "targets", 3, "id"], KeyError, "steps[1].targets[3].id"),
    (["steps", 1, "targets", 3, "id"], " ", "steps[1].targets[3].id"),
    (["steps", 1, "targets", 3, "users"], ["a"], "steps[1].targets[3].users"),
    (["steps", 1, "targets", 0, "users"], ["ann", ""], "steps[1].targets[0].users[1]"),
    (["steps", 1, "targets", 1, "round_robin"], [], "steps[1].targets[1].round_robin"),
    (["steps", 1, "targets", 2, "user"], 7, "steps[1].targets[2].user"),
    (["steps", 1, "targets", 2], "zed", "steps[1].targets[2]"),
    (["steps", 1, "targets"], [], "steps[1].targets"),
    (["steps", 1, "delay_minutes"], -1, "steps[1].delay_minutes"),
    (["steps", 1, "delay_minutes"], "10", "steps[1].delay_minutes"),
    (["steps", 1, "delay_minutes"], 60 * 24 * 8, "steps[1].delay_minutes"),
    (["steps", 1, "delay"], 5, "steps[1].delay"),  # both delay and delay_minutes
    (["steps", 2, "delay"], "5 parsecs", "steps[2].delay"),
    (["steps", 2, "delay"], KeyError, "steps[2].delay"),
    (["steps", 2, "escalate"], True, "steps[2].escalate"),
    (["steps", 0, "urgency"], "urgent", "steps[0].urgency"),
    (["steps", 0, "multi_ack"], "yes", "steps[0].multi_ack"),
    (["steps", 1, "active_between", "tz"], "Mars/Olympus", "steps[1].active_between.tz"),
    (["steps", 1, "active_between", "start"], 540, "steps[1].active_between.start"),
    (["steps", 1, "active_between", "end"], "25:00", "steps[1].active_between.end"),
    (["steps", 1, "active_between", "days", 1], "funday", "steps[1].active_between.days[1]"),
    (["steps"], [], "steps"),
    (["repeat"], 6, "repeat"),
    (["repeat"], "twice", "repeat"),
    (["ack_timeout_minutes"], 0, "ack_timeout_minutes"),
    (["ack_timeout"], "1h", "ack_timeout"),  # both ack_timeout and ack_timeout_minutes
    (["conditions", "severities", 1], "sev1", "conditions.severities[1]"),
    (["conditions", "statuses"], "firing", "conditions.statuses"),
    (["conditions", "priority"], ["p1"], "conditions.priority"),
    (["name"], KeyError, "name"),
    (["escalate"], "now", "escalate"),
])
def test_invalid_dicts_name_the_exact_field(path: list[Any], value: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_policy(mutate(path, value))
    assert err.value.field == field, err.value.message


def test_dataclasses_validate_directly() -> None:
    with pytest.raises(InvalidInput) as err:
        Policy("p", ())
    assert err.value.field == "steps"
    with pytest.raises(InvalidInput) as err:
        Step(timedelta(minutes=-1), (user("a"),))
    assert err.value.field == "delay"
    with pytest.raises(InvalidInput) as err:
        Target(TargetKind.ROUND_ROBIN)
    assert err.value.field == "users"
