"""CEL conditions cannot freeze Vigil: what could cost more than linear time is refused
when a rule is saved (and a stored one is skipped at ingest and named at /test), and
/correlation-rules/test is rate-limited per caller."""

from __future__ import annotations

import time
from typing import Any

import pytest

from conftest import Harness
from incident_api import alert, am, incidents
from vigil.clock import FakeClock
from vigil.core.event import Action, AlertEvent
from vigil.core.severity import Severity
from vigil.core.submission import Submission
from vigil.correlation import cel_bounds
from vigil.correlation.api import TEST_BURST
from vigil.correlation.models import CorrelationRule
from vigil.correlation.routing import RuleSet, compile_rule, context
from vigil.errors import InvalidInput
from vigil.http.ratelimit import TokenBucket

RULES = "/api/v1/correlation-rules"
LIST = "[1,2,3,4,5,6,7,8]"


def nested_map(depth: int) -> str:
    """The issue's shape: maps nested ``depth`` deep over eight items, 8**depth steps."""
    expr = "a0"
    for i in range(depth):
        expr = f"{LIST}.map(a{i}, {expr})"
    return f"size({expr}) > 0 && labels.env == \"prod\""


#: 8**8 = 16.7 million steps: seconds per alert before the bounds.
HOSTILE = nested_map(8)


def _quick(call: Any) -> Any:
    started = time.monotonic()
    resp = call()
    assert time.monotonic() - started < 5, "the process was busy for seconds"
    return resp


#: Each with a word the refusal says.
COSTLY = [
    (HOSTILE, "nested"),
    (nested_map(2), "nested"),
    ("[1,2].map(x, x + x).map(y, y + y).size() > 0", "chained"),
    ('(labels.filter(k, k == "a")).exists(y, y == "a")', "chained"),
    ('labels.exists(k, annotations.exists(j, j == k))', "nested"),
    (" || ".join(f'labels.exists(k{i}, k{i} == "x")' for i in range(9)), "comprehensions"),
    ("(" * 40 + "1" + ")" * 40 + " == 1", "brackets"),
    ("labels.env == 'x' || " * 250 + "true", "characters"),
    ("[" + ",".join(["1"] * 600) + "].exists(x, " + " + ".join(["x"] * 100) + " > 0)",
     "costly"),
    ("summary.matches(labels.pattern)", "string literal"),
    ('summary.matches(".{1000}")', "too large"),
    ('summary.matches("(a{20}){20}")', "too large"),
]


def test_costly_conditions_are_refused_at_save(vigil: Harness) -> None:
    for condition, says in COSTLY:
        resp = _quick(lambda condition=condition: vigil.client.post(
            RULES, headers=vigil.auth, json={"name": "costly", "condition": condition}))
        assert resp.status_code == 422, (condition, resp.text)
        error = resp.json()["error"]
        assert error["field"] == "condition" and says in error["message"], (condition, error)
    assert vigil.client.get(RULES, headers=vigil.auth).json() == []


def test_a_patch_to_a_costly_condition_changes_nothing(vigil: Harness) -> None:
    made = vigil.client.post(RULES, headers=vigil.auth, json={
        "name": "prod", "condition": 'labels.env == "prod"'})
    assert made.status_code == 201
    rule = f"{RULES}/{made.json()['id']}"
    resp = _quick(lambda: vigil.client.patch(rule, headers=vigil.auth,
                                             json={"condition": HOSTILE, "position": 3}))
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "condition"
    after = vigil.client.get(rule, headers=vigil.auth).json()
    assert after["condition"] == 'labels.env == "prod"' and after["position"] == 100


def test_linear_conditions_are_accepted(vigil: Harness) -> None:
    for i, condition in enumerate([
            'labels.exists(k, k.startsWith("team")) && annotations.all(k, k != "x")',
            '[1, 2, 3].exists(x, x == severity_level) || labels.env == ".map(a, b)"',
            'summary.matches("^disk (full|almost full)$") && name.matches(r"\\w{1,64}")',
            'size(labels) > 3 && "team" in labels']):
        resp = vigil.client.post(RULES, headers=vigil.auth, json={
            "name": f"r{i}", "condition": condition})
        assert resp.status_code == 201, (condition, resp.text)


def _legacy_rule(h: Harness, condition: str) -> None:
    """A rule saved before the bounds: written straight to the table."""
    now = h.clock.now()
    with h.ctx.db.write() as s:
        s.add(CorrelationRule(tenant_id=1, name="legacy", condition=condition, group_by=[],
                              created_at=now, updated_at=now))
    h.ctx.runner.rules.invalidate()


def test_a_stored_costly_rule_is_named_at_test_and_skipped_at_ingest(vigil: Harness) -> None:
    _legacy_rule(vigil, HOSTILE)
    viewer = {"Authorization": f"Bearer {vigil.key_for('viewer')}"}
    resp = _quick(lambda: vigil.client.post(f"{RULES}/test", headers=viewer, json={
        "alert": {"labels": {"alertname": "X", "env": "prod"}}}))
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["field"] == "condition" and "'legacy'" in error["message"]
    posted = _quick(lambda: vigil.post_alertmanager(am(alert("Slow", env="prod"))))
    assert posted.status_code == 202, posted.text
    assert [i["title"] for i in incidents(vigil)] == ["Slow on checkout"]  # the default rule
    listed = vigil.client.get(RULES, headers=viewer)
    assert listed.status_code == 200 and listed.json()[0]["name"] == "legacy"


def test_the_test_endpoint_is_rate_limited_per_caller(vigil: Harness) -> None:
    viewer = {"Authorization": f"Bearer {vigil.key_for('viewer')}"}
    body = {"alert": {"labels": {"alertname": "X"}}}
    for _ in range(TEST_BURST):
        assert vigil.client.post(f"{RULES}/test", headers=viewer,
                                 json=body).status_code == 200
    refused = vigil.client.post(f"{RULES}/test", headers=viewer, json=body)
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] == "2"
    assert refused.json()["error"]["code"] == "rate_limited"
    # Another caller has a bucket of its own.
    assert vigil.client.post(f"{RULES}/test", headers=vigil.auth, json=body).status_code == 200
    vigil.clock.advance(seconds=1)
    assert vigil.client.post(f"{RULES}/test", headers=viewer, json=body).status_code == 429
    vigil.clock.advance(seconds=1)
    assert vigil.client.post(f"{RULES}/test", headers=viewer, json=body).status_code == 200
    assert vigil.client.post(f"{RULES}/test", headers=viewer, json=body).status_code == 429


def test_the_sample_alert_is_held_to_the_ingest_limits(vigil: Harness) -> None:
    labels = {f"l{i}": "v" for i in range(vigil.ctx.settings.ingest_max_labels + 1)}
    resp = vigil.client.post(f"{RULES}/test", headers=vigil.auth,
                             json={"alert": {"labels": labels}})
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "alert.labels"


def _submission(labels: dict[str, str]) -> Submission:
    ev = AlertEvent(action=Action.TRIGGER, source="alertmanager", name="X", summary="x",
                    severity=Severity.WARNING, service="api", labels=labels)
    return Submission(1, 7, "", ev)


def test_a_comprehension_does_not_run_over_more_items_than_it_was_costed_for() -> None:
    rule = compile_rule({"name": "iterates", "position": 1,
                         "condition": 'labels.exists(k, k == "team")'}, id=1)
    assert rule.iterates
    rules = RuleSet([rule])
    small = context(_submission({"team": "db"}))
    big = context(_submission({"team": "db", **{f"l{i}": "v" for i in
                                                range(cel_bounds.ASSUMED_ITEMS)}}))
    assert rules.match(small) is rule
    assert rules.match(big).name == "default"


def test_strings_and_comments_do_not_count_as_comprehensions() -> None:
    assert cel_bounds.check('labels.x == ".map(a, [1].map(b, b))" // .map(c, c)') == 0
    assert cel_bounds.check("labels.x == '''.exists(a, a)''' && r\"\\.all(\" != name") == 0
    with pytest.raises(InvalidInput):
        cel_bounds.check(nested_map(2))


def test_token_bucket_refills_with_the_clock() -> None:
    clock = FakeClock()
    bucket = TokenBucket(capacity=2, per_second=0.5, max_keys=2)
    assert bucket.take("a", clock.now()) == 0 and bucket.take("a", clock.now()) == 0
    assert bucket.take("a", clock.now()) == pytest.approx(2.0)
    clock.advance(seconds=1)
    assert bucket.take("a", clock.now()) == pytest.approx(1.0)
    clock.advance(seconds=1)
    assert bucket.take("a", clock.now()) == 0
    # Past max_keys, full (idle) buckets are forgotten first.
    assert bucket.take("b", clock.now()) == 0
    clock.advance(seconds=10)
    assert bucket.take("c", clock.now()) == 0
    assert len(bucket._buckets) <= 2
