"""Correlation rules, pure: compiling (errors at save time), indexing, routing, and what the
correlation core does with a rule's threshold, create_on, approval, title and severity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vigil.alerts.dedup import AlertState, Decision, decide
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import fingerprint
from vigil.core.severity import Severity
from vigil.core.submission import Submission
from vigil.correlation.routing import (
    DEFAULT_RULE,
    CompiledRule,
    Route,
    RuleSet,
    compile_rule,
    index_of,
    route,
    route_batch,
    split_top,
)
from vigil.errors import InvalidInput
from vigil.incidents.grouping import IncidentDecision, IncidentState, group_alerts

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rule(id: int = 1, **data: Any) -> CompiledRule:
    return compile_rule({"name": f"r{id}", "position": id, **data}, id=id)


def sub(name: str = "HighLatency", *, action: str = "trigger", severity: Severity =
        Severity.WARNING, service: str | None = "api", tenant: int = 1, integration: int = 7,
        **labels: str) -> Submission:
    ev = AlertEvent(action=Action(action), source="alertmanager", name=name,
                    summary=f"{name} summary", severity=severity, service=service,
                    labels={"alertname": name, **labels})
    return Submission(tenant, integration, fingerprint(ev, integration_id=integration), ev)


# --- compiling -------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "field", "words"), [
    ({"condition": 'labels.env == "prod" &&'}, "condition", "invalid CEL"),
    ({"condition": 'lables.env == "prod"'}, "condition", "unknown variable lables"),
    ({"create_on": "all", "condition": 'labels.a == "x" || bogus'}, "condition",
     "unknown variable bogus"),
    ({"group_by": ["service", "hostname"]}, "group_by[1]", "'hostname' is not a field"),
    ({"group_by": ["labels."]}, "group_by[0]", "not a field"),
    ({"title_template": "{{ labels.alertname "}, "title_template", "invalid template"),
])
def test_invalid_rules_are_refused_naming_the_field(data: dict[str, Any], field: str,
                                                    words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        compile_rule({"name": "bad", **data})
    assert err.value.field == field
    assert words in err.value.message


def test_split_top_respects_strings_and_brackets() -> None:
    assert split_top('a == "x && y" && (b || c) && d in ["&&"]', "&&") == [
        'a == "x && y"', "(b || c)", 'd in ["&&"]']
    assert split_top('a == "x" || b == "y"', "||") == ['a == "x"', 'b == "y"']


@pytest.mark.parametrize(("condition", "index"), [
    ('labels.team == "db"', ("labels.team", ("db",))),
    ('labels["team"] == "db" && severity == "critical"', ("labels.team", ("db",))),
    ('"prod" == labels.env', ("labels.env", ("prod",))),
    ('severity in ["critical", "high"] && labels.env == "prod"',
     ("severity", ("critical", "high"))),
    ('service == "api"', ("service", ("api",))),
    ('alertname == "X"', ("name", ("X",))),
    ('labels.team.startsWith("d") && service == "api"', ("service", ("api",))),
    ('labels.team == "db" || service == "api"', None),  # either side may match
    ('labels.team != "db"', None),
    ("", None),
    ('severity_level >= 4', None),
    ('labels.team == "db" ? true : false', None),
])
def test_rules_are_indexed_by_a_field_their_condition_pins(
        condition: str, index: tuple[str, tuple[str, ...]] | None) -> None:
    assert index_of(condition) == index


# --- routing ---------------------------------------------------------------------------

def test_first_matching_rule_by_position_takes_the_alert_else_the_default() -> None:
    rules = RuleSet([
        rule(2, condition='labels.env == "prod"', group_by=["labels.cluster"]),
        rule(1, condition='labels.env == "prod" && severity in ["critical"]',
             group_by=["service"]),
        rule(3, condition='service == "db"'),
    ])
    sets = {1: rules}
    crit = route(sets, sub(severity=Severity.CRITICAL, env="prod", cluster="eu"))
    assert crit is not None and crit.rule.id == 1 and crit.key == "rule:1:api"
    warn = route(sets, sub(env="prod", cluster="eu"))
    assert warn is not None and warn.rule.id == 2 and warn.key == "rule:2:eu"
    other = route(sets, sub(env="dev"))
    assert other is not None and other.rule is DEFAULT_RULE
    assert other.key == "default:7:api:HighLatency"
    assert route(sets, sub(action="resolve", env="prod")) is None
    # Another tenant has no rules: the default.
    elsewhere = route(sets, sub(tenant=2, env="prod"))
    assert elsewhere is not None and elsewhere.rule is DEFAULT_RULE


def test_indexed_and_scanned_rules_keep_their_order() -> None:
    scanned = rule(1, condition="severity_level >= 3")
    indexed = rule(2, condition='labels.team == "db"')
    rules = RuleSet([indexed, scanned])
    assert rules.candidates({"labels": {"team": "db"}, "severity_level": 3}) == [
        scanned, indexed]
    # An alert of another team never reaches the indexed rule's CEL.
    assert rules.candidates({"labels": {"team": "web"}, "severity_level": 3}) == [scanned]


def test_fifty_indexed_rules_give_each_alert_one_candidate() -> None:
    rules = RuleSet([rule(i, condition=f'labels.team == "team{i}" && severity_level >= 1',
                          group_by=["labels.team"]) for i in range(1, 51)])
    for i in (1, 25, 50):
        ctx_sub = sub(team=f"team{i}")
        found = route({1: rules}, ctx_sub)
        assert found is not None and found.rule.id == i
        from vigil.correlation.routing import context
        assert [r.id for r in rules.candidates(context(ctx_sub))] == [i]


def test_a_condition_that_errors_on_an_alert_does_not_take_it() -> None:
    rules = RuleSet([rule(1, condition="labels.count > 3")])  # a string compared to an int
    found = route({1: rules}, sub(count="7"))
    assert found is not None and found.rule is DEFAULT_RULE


def test_title_template_renders_the_alert_and_falls_back_on_error() -> None:
    r = rule(1, title_template="{{ name }} on {{ service }} ({{ labels.cluster }})")
    found = route({1: RuleSet([r])}, sub(cluster="eu-1"))
    assert found is not None and found.title("x") == "HighLatency on api (eu-1)"
    broken = rule(2, title_template="{{ labels.cluster.nope() }}")
    found = route({1: RuleSet([broken])}, sub())
    assert found is not None and found.title("fallback") == "fallback"


def test_group_by_correlation_id_joins_across_names_and_services() -> None:
    r = rule(1, group_by=["correlation_id"])
    a, b = route_batch({1: RuleSet([r])}, [sub("A", correlation_id="deploy-7"),
                                           sub("B", service="db", correlation_id="deploy-7")])
    assert a is not None and b is not None and a.key == b.key == "rule:1:deploy-7"


# --- correlation with rules ------------------------------------------------------------

def run(rules: list[CompiledRule], batch: list[Submission], *,
        known: list[IncidentState] = (),  # type: ignore[assignment]
        open_alerts: list[AlertState] = (),  # type: ignore[assignment]
        now: datetime = NOW) -> tuple[Decision, IncidentDecision]:
    routes = route_batch({1: RuleSet(rules)}, batch)
    d = decide(open_alerts, batch, now)
    return d, group_alerts(known, d.outcomes, now, routes=routes)


def persist(d: Decision, inc: IncidentDecision, start: int = 100) -> None:
    for n, a in enumerate(d.new, 1):
        a.id = n
    for n, i in enumerate(inc.new, start):
        i.id = n
        i.number = n - start + 1
    for a, i in inc.links:
        a.incident_id = i.id


def test_rule_shapes_the_incident() -> None:
    r = rule(1, condition='labels.env == "prod"', group_by=["labels.cluster"],
             title_template="{{ labels.cluster }}: {{ name }}", severity="critical",
             priority="P1", category="database", team="dba", resolve_on="first")
    _, inc = run([r], [sub(env="prod", cluster="eu"), sub("Other", env="prod", cluster="eu")])
    (new,) = inc.new
    assert (new.title, new.severity, new.priority, new.category, new.team, new.resolve_on,
            new.rule_id, new.group_key, new.alert_count) == (
        "eu: HighLatency", int(Severity.CRITICAL), "P1", "database", "dba", "first", 1,
        "rule:1:eu", 2)
    assert [o.topic for o in inc.outbox] == ["incident.created"]
    assert inc.timeline[0].actor == "rule:r1"


def test_threshold_keeps_the_incident_pending_until_met() -> None:
    r = rule(1, condition='service == "api"', group_by=["service"], threshold_alerts=3)
    d, inc = run([r], [sub(instance="a"), sub(instance="b")])
    (pending,) = inc.new
    assert pending.pending and pending.alert_count == 2
    assert inc.outbox == []  # nobody hears of it yet
    assert [t.kind for t in inc.timeline] == ["created", "alert_added"]
    persist(d, inc)
    _d2, inc2 = run([r], [sub(instance="c")], known=[pending], open_alerts=d.new,
                   now=NOW + timedelta(minutes=1))
    assert not pending.pending and pending.alert_count == 3
    assert [o.topic for o in inc2.outbox] == ["incident.created"]
    assert [t.kind for t in inc2.timeline] == ["alert_added", "activated"]


def test_occurrence_threshold_counts_repeats() -> None:
    r = rule(1, group_by=["service"], threshold_occurrences=3)
    first = sub(instance="a")
    d, inc = run([r], [first])
    (pending,) = inc.new
    persist(d, inc)
    first.event.starts_at = NOW  # repeats carry a new startsAt: occurrences, not re-sends
    again = sub(instance="a")
    again.event.starts_at = NOW + timedelta(seconds=30)
    _, _inc2 = run([r], [again], known=[pending], open_alerts=d.new)
    assert pending.pending and pending.occurrences == 2
    third = sub(instance="a")
    third.event.starts_at = NOW + timedelta(seconds=60)
    _, inc3 = run([r], [third], known=[pending], open_alerts=d.new)
    assert not pending.pending and pending.occurrences == 3
    assert [o.topic for o in inc3.outbox] == ["incident.created"]


def test_create_on_all_waits_for_every_part_of_the_condition() -> None:
    r = rule(1, condition='name == "DbDown" || name == "ApiErrors"', group_by=["labels.dc"],
             create_on="all")
    d, inc = run([r], [sub("DbDown", dc="eu"), sub("DbDown", dc="eu", instance="2")])
    (pending,) = inc.new
    assert pending.pending and pending.parts_seen == [0]
    persist(d, inc)
    _, inc2 = run([r], [sub("ApiErrors", dc="eu")], known=[pending], open_alerts=d.new)
    assert not pending.pending and pending.parts_seen == [0, 1]
    assert [o.topic for o in inc2.outbox] == ["incident.created"]


def test_require_approval_announces_a_candidate() -> None:
    r = rule(1, group_by=["service"], require_approval=True)
    _, inc = run([r], [sub()])
    (new,) = inc.new
    assert new.candidate and not new.pending
    assert [o.topic for o in inc.outbox] == ["incident.candidate"]


def test_pending_incident_whose_window_passed_expires_and_a_new_one_starts() -> None:
    r = rule(1, group_by=["service"], threshold_alerts=2, window_minutes=5)
    d, inc = run([r], [sub(instance="a")])
    (old,) = inc.new
    persist(d, inc)
    _, inc2 = run([r], [sub(instance="b")], known=[old], now=NOW + timedelta(minutes=6))
    assert old.status == "deleted" and old.resolution == "rule not met within its window"
    (new,) = inc2.new
    assert new.pending and new.alert_count == 1
    assert [t.kind for t in inc2.timeline] == ["expired", "created"]
    assert inc2.outbox == []


def test_rule_window_decides_whether_an_alert_joins() -> None:
    r = rule(1, group_by=["service"], window_minutes=2)
    d, inc = run([r], [sub(instance="a")])
    (first,) = inc.new
    persist(d, inc)
    _, inc2 = run([r], [sub(instance="b")], known=[first], now=NOW + timedelta(minutes=3))
    assert len(inc2.new) == 1 and first.alert_count == 1


def test_rule_severity_is_kept_instead_of_the_alerts_maximum() -> None:
    r = rule(1, group_by=["service"], severity="info")
    _, inc = run([r], [sub(severity=Severity.CRITICAL)])
    assert inc.new[0].severity == int(Severity.INFO)


def test_default_route_without_routes_matches_the_default_rule() -> None:
    batch = [sub()]
    d = decide([], batch, NOW)
    plain = group_alerts([], d.outcomes, NOW)
    routed = group_alerts([], decide([], [sub()], NOW).outcomes, NOW,
                       routes=[Route(DEFAULT_RULE, "default:7:api:HighLatency")])
    assert plain.new[0].group_key == routed.new[0].group_key


@pytest.mark.parametrize(("condition", "scalars", "maps"), [
    ('labels.env == "prod"', (), (("labels", ("env",)),)),
    ('labels["team"] == "db" && labels.env.startsWith("p") && severity == "high"',
     ("severity",), (("labels", ("env", "team")),)),
    ('annotations.runbook != "" && name == "labels.x"', ("name",),
     (("annotations", ("runbook",)),)),
    ("has(labels.env)", (), (("labels", ("env",)),)),
])
def test_needs_names_exactly_what_a_condition_reads(
        condition: str, scalars: tuple[str, ...],
        maps: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    needs = rule(condition=condition).needs
    assert needs is not None and (needs.scalars, needs.maps) == (scalars, maps)


@pytest.mark.parametrize("condition", [
    '"env" in labels', "labels.exists(k, k == \"env\")", "size(labels) > 3",
    "labels[name] == \"x\"", "labels.size() > 1",
])
def test_conditions_that_read_a_whole_map_are_not_memoized(condition: str) -> None:
    assert rule(condition=condition).needs is None


def test_memoized_result_matches_the_full_evaluation() -> None:
    r = rule(1, condition='labels.env == "prod" && has(labels.team) && severity != "info"')
    rules = {1: RuleSet([r])}
    cases = [({"env": "prod", "team": "db", "x": "1"}, Severity.HIGH, True),
             ({"env": "prod", "team": "db", "x": "2"}, Severity.HIGH, True),
             ({"env": "prod", "x": "3"}, Severity.HIGH, False),  # no team label
             ({"env": "prod", "team": "db"}, Severity.INFO, False),
             ({"env": "dev", "team": "db"}, Severity.HIGH, False)]
    for labels, severity, expected in cases * 2:  # the second pass answers from the memo
        found = route(rules, sub(severity=severity, **labels))
        assert found is not None and (found.rule is r) == expected, (labels, severity)
    # One evaluation per distinct (severity, env, team); "dev" never reaches the rule's CEL
    # (the rule is filed under env "prod").
    assert len(r.memo) == 3
    from vigil.correlation.routing import context
    for labels, severity, expected in cases:
        assert r.program.execute(context(sub(severity=severity, **labels))) is expected
