"""Inhibition, table-driven: firing sources and a batch in, inhibited triggers out."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from vigil.alerts.dedup import decide
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.core.submission import Submission
from vigil.errors import InvalidInput
from vigil.muting.inhibition import (
    FiringAlert,
    InhibitRule,
    alert_labels,
    inhibited,
    rule_to_dict,
    source_query,
    validate_inhibit_rule,
)
from vigil.muting.silences import mute_labels

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sub(name: str, *, severity: Severity = Severity.WARNING, tenant: int = 1,
        action: str = "trigger", **labels: str) -> Submission:
    event = AlertEvent(action=Action(action), source="alertmanager", name=name,
                       summary=name, severity=severity,
                       labels={"alertname": name, **labels})
    return Submission(tenant, 7, fingerprint(event, integration_id=7), event)


def firing(s: Submission) -> FiringAlert:
    return FiringAlert(s.tenant_id, s.fingerprint, mute_labels(s.event))


def rule(id_: int, source: list[str], target: list[str], equal: list[str] | None = None,
         tenant: int = 1) -> InhibitRule:
    spec = validate_inhibit_rule({"source_matchers": source, "target_matchers": target,
                                  "equal": equal or []})
    return InhibitRule(id_, tenant, spec)


# Critical inhibits warning of the same cluster (the classic Alertmanager example).
CRIT_OVER_WARN = rule(1, ['severity="critical"'], ['severity="warning"'], ["cluster"])

NODE_DOWN_A = sub("NodeDown", severity=Severity.CRITICAL, cluster="a")
NODE_DOWN_NONE = sub("NodeDown", severity=Severity.CRITICAL)  # no cluster label


@pytest.mark.parametrize(("sources", "target", "expected"), [
    ([NODE_DOWN_A], sub("HighLatency", cluster="a"), True),
    ([NODE_DOWN_A], sub("HighLatency", cluster="b"), False),     # equal label differs
    ([NODE_DOWN_A], sub("HighLatency"), False),                  # missing on the target
    ([NODE_DOWN_NONE], sub("HighLatency", cluster="a"), False),  # missing on the source
    ([NODE_DOWN_NONE], sub("HighLatency"), True),                # missing on both: equal
    ([NODE_DOWN_NONE], sub("HighLatency", cluster=""), True),    # empty is missing
    ([], sub("HighLatency", cluster="a"), False),                # no source
    ([NODE_DOWN_A], sub("HighLatency", severity=Severity.HIGH, cluster="a"), False),
    ([sub("Info", severity=Severity.INFO, cluster="a")], sub("HighLatency", cluster="a"),
     False),                                                     # not a source
    ([sub("NodeDown", severity=Severity.CRITICAL, cluster="a", tenant=2)],
     sub("HighLatency", cluster="a"), False),                    # another tenant's
])
def test_equal_labels(sources: list[Submission], target: Submission, expected: bool) -> None:
    got = inhibited([CRIT_OVER_WARN], [firing(s) for s in sources], [target])
    assert got == ({0: 1} if expected else {})


SELF = rule(5, ['alertname="Flappy"'], ['alertname="Flappy"'], ["cluster"])


@pytest.mark.parametrize(("sources", "batch", "expected"), [
    # An alert matching both sides does not inhibit itself...
    ([], [sub("Flappy", cluster="a")], {}),
    ([sub("Flappy", cluster="a")], [sub("Flappy", cluster="a")], {}),
    # ...but another alert of the same rule does.
    ([sub("Flappy", cluster="a", instance="1")], [sub("Flappy", cluster="a", instance="2")],
     {0: 5}),
    # Two in the same batch inhibit each other.
    ([], [sub("Flappy", cluster="a", instance="1"), sub("Flappy", cluster="a", instance="2")],
     {0: 5, 1: 5}),
    ([], [sub("Flappy", cluster="a", instance="1"), sub("Flappy", cluster="b", instance="2")],
     {}),
])
def test_an_alert_does_not_inhibit_itself(sources: list[Submission], batch: list[Submission],
                                          expected: dict[int, int]) -> None:
    assert inhibited([SELF], [firing(s) for s in sources], batch) == expected


def test_the_batch_updates_the_sources() -> None:
    source = sub("NodeDown", severity=Severity.CRITICAL, cluster="a")
    target = sub("HighLatency", cluster="a")
    resolved = sub("NodeDown", severity=Severity.CRITICAL, cluster="a", action="resolve")
    assert resolved.fingerprint == source.fingerprint
    # A source arriving in the same batch (after the target) inhibits it.
    assert inhibited([CRIT_OVER_WARN], [], [target, source]) == {0: 1}
    # A source resolved in the batch no longer does.
    assert inhibited([CRIT_OVER_WARN], [firing(source)], [resolved, target]) == {}
    # Resolved then firing again: it does.
    assert inhibited([CRIT_OVER_WARN], [], [resolved, source, target]) == {2: 1}
    # Only triggers are inhibited.
    assert inhibited([CRIT_OVER_WARN], [firing(source)],
                     [sub("HighLatency", cluster="a", action="resolve"),
                      sub("HighLatency", cluster="a", action="acknowledge")]) == {}


def test_multiple_rules_the_first_that_applies_wins() -> None:
    rules = [
        rule(10, ['alertname="DatacenterDown"'], ['alertname=~".+"'], ["dc"]),
        rule(11, ['alertname="NodeDown"'], ['alertname!="NodeDown"'], ["node"]),
        rule(12, ['severity="critical"'], ['severity="warning"']),  # no equal: any critical
        rule(13, ['alertname="Anything"'], ['alertname=~".+"'], tenant=2),
    ]
    sources = [firing(sub("NodeDown", severity=Severity.CRITICAL, node="n1", dc="x"))]
    batch = [
        sub("DiskFull", node="n1", dc="y"),                        # 11 (and 12)
        sub("DiskFull", node="n2", dc="y"),                        # 12
        sub("DiskFull", severity=Severity.HIGH, node="n2"),        # none
        sub("DiskFull", severity=Severity.HIGH, node="n2", tenant=2),  # none: no source
        sub("DatacenterDown", severity=Severity.CRITICAL, dc="x"),  # 4: a source for 10
        sub("DiskFull", severity=Severity.HIGH, node="n9", dc="x"),  # 10
    ]
    # DatacenterDown (4) matches its own rule's targets but is the only source: not itself.
    assert inhibited(rules, sources, batch) == {0: 11, 1: 12, 5: 10}
    assert inhibited(list(reversed(rules)), sources, batch) == {0: 12, 1: 12, 5: 10}


def test_sources_are_indexed_not_scanned() -> None:
    rules = [rule(i, ['severity="critical"', f'team="t{i}"'], ['severity="warning"'],
                  ["cluster", "team"]) for i in range(20)]
    sources = [FiringAlert(1, f"fp{i}", {"alertname": "NodeDown", "severity": "critical",
                                         "team": f"t{i % 20}", "cluster": f"c{i}"})
               for i in range(5000)]
    batch = [sub("HighLatency", team=f"t{i % 20}", cluster=f"c{i}") for i in range(10000)]
    started = time.perf_counter()
    got = inhibited(rules, sources, batch)
    assert time.perf_counter() - started < 3.0
    assert got == {i: i % 20 for i in range(5000)}


def test_alert_labels_match_what_mute_labels_gives_a_trigger() -> None:
    trigger = sub("NodeDown", severity=Severity.CRITICAL, cluster="a")
    trigger.event.service = "db"
    trigger.event.environment = "prod"
    alert = decide([], [trigger], NOW).new[0]
    assert alert_labels(alert) == mute_labels(trigger.event)


def test_source_query_tells_what_to_load() -> None:
    rules = [
        rule(1, ['alertname="NodeDown"', 'severity="critical"'], ["severity=warning"]),
        rule(2, ['alertname="DatacenterDown"'], ["severity=warning"]),
        rule(3, ['severity="critical"'], ["severity=warning"], tenant=2),
        rule(4, ['alertname="A"', 'alertname="B"'], ["severity=warning"], tenant=3),
    ]
    q = source_query(rules)
    assert q.tenant_ids == {1, 2, 3}
    assert q.alertnames == {1: {"NodeDown", "DatacenterDown"}, 2: None, 3: frozenset()}
    assert q.matches(1, {"alertname": "NodeDown", "severity": "critical"})
    assert not q.matches(1, {"alertname": "NodeDown", "severity": "warning"})
    assert q.matches(1, {"alertname": "DatacenterDown"})
    assert q.matches(2, {"alertname": "X", "severity": "critical"})
    assert not q.matches(4, {"alertname": "NodeDown", "severity": "critical"})
    assert not q.matches(3, {"alertname": "A"})


@pytest.mark.parametrize(("data", "field"), [
    ({"target_matchers": ["severity=warning"]}, "source_matchers"),
    ({"source_matchers": [], "target_matchers": ["severity=warning"]}, "source_matchers"),
    ({"source_matchers": "severity=critical", "target_matchers": ["a=b"]}, "source_matchers"),
    ({"source_matchers": ["severity=critical"]}, "target_matchers"),
    ({"source_matchers": ["severity=critical"], "target_matchers": ["a=b", "c"]},
     "target_matchers[1]"),
    ({"source_matchers": ["severity=critical", "x=~("], "target_matchers": ["a=b"]},
     "source_matchers[1].value"),
    ({"source_matchers": [{"name": "9", "value": "x"}], "target_matchers": ["a=b"]},
     "source_matchers[0].name"),
    ({"source_matchers": [7], "target_matchers": ["a=b"]}, "source_matchers[0]"),
    ({"source_matchers": ["a=b"], "target_matchers": ["a=b"], "equal": "cluster"}, "equal"),
    ({"source_matchers": ["a=b"], "target_matchers": ["a=b"], "equal": ["cluster", "1x"]},
     "equal[1]"),
    ({"source_matchers": ["a=b"], "target_matchers": ["a=b"], "equal": [None]}, "equal[0]"),
    ([], "body"),
])
def test_invalid_rules_name_the_field(data: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_inhibit_rule(data)
    assert err.value.field == field, err.value.message


def test_rule_round_trips_through_its_dict() -> None:
    spec = validate_inhibit_rule({
        "source_matchers": ['severity="critical"', {"name": "team", "op": "=~",
                                                     "value": "db|infra"}],
        "target_matchers": ['severity!="critical"'],
        "equal": ["cluster", "cluster", "team"],
        "comment": "ignored",
    })
    assert spec.equal == ("cluster", "team")
    assert validate_inhibit_rule(rule_to_dict(spec)) == spec
