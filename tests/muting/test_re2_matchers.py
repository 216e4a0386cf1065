"""``=~`` and ``!~`` matchers use RE2, as Alertmanager's Go matchers do: linear-time
matching (a catastrophic pattern cannot stall the process), Go's syntax, and a pattern RE2
refuses is a 422 naming the matcher when the silence, window or rule is saved.

Without RE2 the pathological cases below do not fail quickly: Python's ``re`` backtracks
for longer than the age of the universe on 60 characters, so the test never ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import Harness
from vigil import configfiles
from vigil.errors import InvalidInput
from vigil.muting import regex
from vigil.muting.inhibition import validate_inhibit_rule
from vigil.muting.maintenance import validate_window
from vigil.muting.matchers import matcher, parse
from vigil.muting.models import Silence

EVIL = '(a+)+$'
VICTIM = "a" * 60 + "b"  # 2^60 ways to split the a's for a backtracking engine

SILENCES = "/api/v1/silences"
WINDOWS = "/api/v1/maintenance-windows"
INHIBIT = "/api/v1/inhibition-rules"


def am(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "alerts": list(alerts)}


def alert(name: str, **labels: str) -> dict[str, Any]:
    return {"status": "firing", "labels": {"alertname": name, **labels},
            "annotations": {"summary": name}}


# --- pure: the matcher ----------------------------------------------------------------------


def test_a_catastrophic_pattern_matches_in_linear_time() -> None:
    evil = parse(f'alertname=~"{EVIL}"')
    assert evil.matches({"alertname": VICTIM}) is False
    assert evil.matches({"alertname": "a" * 60}) is True
    assert parse(f'alertname!~"{EVIL}"').matches({"alertname": VICTIM}) is True
    # Other classic backtracking bombs, on long inputs.
    assert parse('x=~"(a|aa)+"').matches({"x": "a" * 5000 + "b"}) is False
    assert parse('x=~"(.*a){20}"').matches({"x": "a" * 5000 + "b"}) is False
    assert parse('x=~"(x+x+)+y"').matches({"x": "x" * 100_000}) is False


@pytest.mark.parametrize(("text", "labels", "expected"), [
    # anchored at both ends, as Alertmanager wraps patterns in ^(?:...)$
    ('alertname=~"Disk"', {"alertname": "DiskFull"}, False),
    ('alertname=~"Disk.*"', {"alertname": "DiskFull"}, True),
    ('alertname=~"Full"', {"alertname": "DiskFull"}, False),
    ('alertname=~"a|DiskFull"', {"alertname": "DiskFull"}, True),  # the whole alternation
    ('alertname=~"Disk$"', {"alertname": "Disk\n"}, False),  # $ is the end of the text
    ('alertname!~"Disk.*"', {"alertname": "DiskFull"}, False),
    ('alertname!~"Cpu.*"', {"alertname": "DiskFull"}, True),
    # a missing label is the empty string
    ('team=~""', {}, True),
    ('team=~".*"', {}, True),
    ('team=~".+"', {}, False),
    ('team!~".+"', {}, True),
    ('team!~""', {}, False),
    ('team=~""', {"team": "x"}, False),
    # Go/RE2 syntax and semantics
    ('env=~"(?i)PROD"', {"env": "prod"}, True),
    ('x=~"\\d+"', {"x": "\u0663"}, False),  # \d is ASCII only, as in Go
    ('x=~"\\p{Greek}+"', {"x": "αβγ"}, True),  # Unicode classes, which Python's re lacks
    ('x=~"[[:alpha:]]+"', {"x": "abc"}, True),
    ('x=~"a\\z"', {"x": "a"}, True),
    ('x=~".*"', {"x": "bad \ud800 surrogate"}, True),  # no crash on invalid UTF-8
])
def test_alertmanager_semantics(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse(text).matches(labels) is expected


@pytest.mark.parametrize("pattern", [
    "(a)\\1",  # backreference
    "(?=x)",  # lookahead
    "(?!x)",
    "(?<=x)y",  # lookbehind
    "a++",  # possessive
    "a\\Z",  # Python's end of text; RE2 and Go spell it \z
    "a{1001}",  # repetition above RE2's (and Go's) limit
    "(",
    "x" * (regex.MAX_PATTERN + 1),
])
def test_patterns_re2_refuses_name_the_matcher(pattern: str) -> None:
    with pytest.raises(InvalidInput) as err:
        matcher("alertname", "=~", pattern, field="matchers[2]")
    assert err.value.field == "matchers[2].value"
    assert "RE2" in err.value.message
    with pytest.raises(InvalidInput) as err:
        validate_window({"matchers": ["a=b", {"name": "x", "op": "!~", "value": pattern}],
                         "starts_at": "2026-03-01T12:00:00Z", "duration_minutes": 5})
    assert err.value.field == "matchers[1].value"
    with pytest.raises(InvalidInput) as err:
        validate_inhibit_rule({"source_matchers": ["a=b"],
                               "target_matchers": ["c=d", f'x=~"{pattern}"']})
    assert err.value.field == "target_matchers[1].value"


def test_compiled_patterns_are_cached_and_matchers_compare_by_text() -> None:
    assert regex.compile("Disk.*") is regex.compile("Disk.*")
    assert parse('a=~"x|y"') == parse('a=~"x|y"')
    assert hash(parse('a=~"x|y"')) == hash(parse('a=~"x|y"'))
    assert parse('a=~"x|y"') != parse('a!~"x|y"')
    assert regex.cache_info().maxsize == regex.CACHE_SIZE
    # Refusals are cached too: a stored pattern that no longer compiles is cheap to reload.
    with pytest.raises(regex.RegexError, match="invalid perl operator"):
        regex.compile("(?=x)")
    misses = regex.cache_info().misses
    with pytest.raises(regex.RegexError, match="invalid perl operator"):
        regex.compile("(?=x)")
    assert regex.cache_info().misses == misses


# --- through the API and the pipeline -------------------------------------------------------


def test_a_pathological_silence_mutes_without_stalling_ingest(vigil: Harness) -> None:
    made = vigil.client.post(SILENCES, headers=vigil.auth, json={
        "matchers": [f'alertname=~"{EVIL}"'], "duration_minutes": 60})
    assert made.status_code == 201, made.text
    resp = vigil.post_alertmanager(am(alert(VICTIM), alert("a" * 60), alert(VICTIM + "x")))
    assert resp.status_code == 202, resp.text
    assert [a["outcome"] for a in resp.json()["alerts"]] == ["created", "suppressed", "created"]
    assert vigil.client.get("/health").status_code in (200, 503)


def test_pathological_window_and_inhibition_rule_do_not_stall_ingest(vigil: Harness) -> None:
    window = vigil.client.post(WINDOWS, headers=vigil.auth, json={
        "name": "evil", "matchers": [f'alertname=~"{EVIL}"'], "duration_minutes": 60})
    assert window.status_code == 201, window.text
    rule = vigil.client.post(INHIBIT, headers=vigil.auth, json={
        "name": "evil", "source_matchers": [f'alertname=~"{EVIL}"'],
        "target_matchers": [f'team=~"{EVIL}"']})
    assert rule.status_code == 201, rule.text
    resp = vigil.post_alertmanager(am(alert(VICTIM, team=VICTIM), alert("aaa"),
                                      alert("Other", team="a" * 60)))
    assert [a["outcome"] for a in resp.json()["alerts"]] == ["created", "suppressed",
                                                            "suppressed"]
    by_name = {a["name"]: a for a in vigil.alerts()}
    assert by_name["aaa"]["suppressed_by"] == f"maintenance:{window.json()['id']}"
    assert by_name["Other"]["suppressed_by"] == f"inhibited:{rule.json()['id']}"


@pytest.mark.parametrize("pattern", ["(a)\\1", "(?=x)"])
def test_refused_patterns_are_422_naming_the_field_and_save_nothing(
        vigil: Harness, pattern: str) -> None:
    def refused(method: str, path: str, body: dict[str, Any], field: str) -> None:
        resp = vigil.client.request(method, path, headers=vigil.auth, json=body)
        assert resp.status_code == 422, (path, resp.text)
        assert resp.json()["error"]["field"] == field, resp.text

    bad = {"name": "alertname", "op": "=~", "value": pattern}
    refused("POST", SILENCES, {"matchers": ["service=db", f'alertname=~"{pattern}"'],
                               "duration_minutes": 5}, "matchers[1].value")
    refused("POST", SILENCES, {"matchers": [bad], "duration_minutes": 5}, "matchers[0].value")
    refused("POST", WINDOWS, {"name": "w", "matchers": ["service=db", bad],
                              "duration_minutes": 5}, "matchers[1].value")
    refused("POST", INHIBIT, {"name": "i", "source_matchers": [f'x!~"{pattern}"'],
                              "target_matchers": ["a=b"]}, "source_matchers[0].value")
    refused("POST", INHIBIT, {"name": "i", "source_matchers": ["a=b"],
                              "target_matchers": ["c=d", bad]}, "target_matchers[1].value")
    for path in (SILENCES, WINDOWS, INHIBIT):
        assert vigil.client.get(path, headers=vigil.auth).json() == [], path

    # Changing a saved window to a refused pattern leaves it as it was.
    made = vigil.client.post(WINDOWS, headers=vigil.auth, json={
        "name": "w", "matchers": ['service=~"db|cache"'], "duration_minutes": 30})
    assert made.status_code == 201, made.text
    wid = made.json()["id"]
    refused("PUT", f"{WINDOWS}/{wid}", {"name": "w", "matchers": [bad],
                                        "duration_minutes": 30}, "matchers[0].value")
    kept = vigil.client.get(f"{WINDOWS}/{wid}", headers=vigil.auth).json()
    assert kept["matchers"] == [{"name": "service", "op": "=~", "value": "db|cache"}]


def test_config_files_with_refused_patterns_do_not_load(tmp_path: Path) -> None:
    (tmp_path / "quiet.yaml").write_text("""\
kind: MaintenanceWindow
name: fine
matchers: ['service=~"db|cache"']
starts_at: "2030-01-01T00:00:00Z"
duration_minutes: 60
---
kind: InhibitionRule
name: lookahead
source_matchers: ['alertname="NodeDown"']
target_matchers: ['severity=~"(?!critical).*"']
""")
    with pytest.raises(InvalidInput) as err:
        configfiles.load([tmp_path])
    assert err.value.field is not None
    assert err.value.field.endswith("quiet.yaml#2.target_matchers[0].value"), err.value.field


def test_a_stored_silence_re2_refuses_is_skipped_not_an_ingest_failure(vigil: Harness) -> None:
    """A silence saved before RE2 (Python's re took backreferences) must not break ingest."""
    now = vigil.clock.now()
    with vigil.ctx.db.write() as s:
        s.add(Silence(tenant_id=1, matchers=[{"name": "alertname", "op": "=~",
                                              "value": "(Disk)\\1"}],
                      starts_at=now, ends_at=now.replace(year=2030), comment="old",
                      created_by="test", created_at=now))
    vigil.ctx.runner.silences.invalidate()
    resp = vigil.post_alertmanager(am(alert("DiskDisk")))
    assert resp.status_code == 202, resp.text
    assert resp.json()["alerts"][0]["outcome"] == "created"


def test_the_ui_forms_get_the_422_with_the_reason(vigil: Harness) -> None:
    """The silences page's forms send their text lines to the same API with the session
    cookie and CSRF header; the form shows the error's message."""
    from ui_session import add_user, sign_in

    add_user(vigil, "rita")
    csrf = {"X-CSRF-Token": sign_in(vigil, "rita")}
    for path, body in ((SILENCES, {"matchers": ['service="db"', 'alertname=~"(Disk)\\1"'],
                                   "duration_minutes": 120, "comment": ""}),
                       (WINDOWS, {"name": "w", "matchers": ['service="db"',
                                                            'alertname=~"(Disk)\\1"'],
                                  "starts_at": "2026-03-01T12:00:00Z",
                                  "ends_at": "2026-03-01T14:00:00Z"})):
        resp = vigil.client.post(path, json=body, headers=csrf)
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert error["field"] == "matchers[1].value"
        assert "invalid regular expression (RE2 syntax" in error["message"]
        assert "invalid escape sequence: \\1" in error["message"]
        assert vigil.client.get(path, headers=vigil.auth).json() == []
