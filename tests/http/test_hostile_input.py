"""Hostile input a fuzzer found: each answered a 500 (sometimes after saving it). Every one
must be a 4xx naming the field, and change nothing, on both databases."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from conftest import Harness
from incident_api import alert, am, detail, incidents
from ui_sign_in import sign_in

RULES = "/api/v1/correlation-rules"
TOO_BIG = 2**63  # one past the largest 64-bit id
TOO_SMALL = -(2**63) - 1


def field_of(resp: Any) -> str:
    field: str = resp.json()["error"]["field"]
    return field


def an_incident(h: Harness) -> dict[str, Any]:
    h.post_alertmanager(am(alert("HighLatency", instance="a")))
    [inc] = incidents(h)
    return detail(h, inc["id"])


# --- 1. null in PATCH /incidents/{id} ---------------------------------------------------

@pytest.mark.parametrize("field", ["title", "severity", "noise", "custom_fields"])
def test_null_for_a_non_nullable_incident_field_is_422_and_saves_nothing(
        vigil: Harness, field: str) -> None:
    before = an_incident(vigil)
    resp = vigil.client.patch(f"/api/v1/incidents/{before['id']}", headers=vigil.auth,
                              json={field: None})
    assert resp.status_code == 422, resp.text
    assert field_of(resp) == field
    assert detail(vigil, before["id"]) == before  # nothing saved: it still reads, unchanged
    assert [i["id"] for i in incidents(vigil)] == [before["id"]]
    # A good change in the same body as a null is refused whole.
    mixed = vigil.client.patch(f"/api/v1/incidents/{before['id']}", headers=vigil.auth,
                               json={"priority": "P1", field: None})
    assert mixed.status_code == 422 and detail(vigil, before["id"]) == before


def test_null_clears_a_nullable_incident_field(vigil: Harness) -> None:
    inc = an_incident(vigil)
    url = f"/api/v1/incidents/{inc['id']}"
    assert vigil.client.patch(url, headers=vigil.auth,
                              json={"priority": "P2", "assignee": "ana"}).status_code == 200
    resp = vigil.client.patch(url, headers=vigil.auth, json={"priority": None, "assignee": None})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["priority"], resp.json()["assignee"]) == (None, None)
    assert vigil.client.patch(url, headers=vigil.auth,
                              json={"custom_fields": {"ticket": None}}).status_code == 200
    assert detail(vigil, inc["id"])["custom_fields"] == {"ticket": None}


# --- 2. null in PATCH /correlation-rules/{id} -------------------------------------------

NON_NULLABLE_RULE_FIELDS = ["name", "description", "position", "enabled", "condition",
                            "group_by", "window_minutes", "create_on", "threshold_alerts",
                            "threshold_occurrences", "resolve_on", "require_approval"]
NULLABLE_RULE_FIELDS = ["title_template", "severity", "priority", "category", "team"]


def a_rule(h: Harness) -> dict[str, Any]:
    resp = h.client.post(RULES, headers=h.auth, json={
        "name": "prod", "condition": 'labels.env == "prod"', "group_by": ["labels.cluster"],
        "title_template": "{{ labels.cluster }} down", "severity": "high", "priority": "P2",
        "category": "infra", "team": "sre"})
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def rule(h: Harness, rule_id: int) -> dict[str, Any]:
    resp = h.client.get(f"{RULES}/{rule_id}", headers=h.auth)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


@pytest.mark.parametrize("field", NON_NULLABLE_RULE_FIELDS)
def test_null_for_a_required_rule_field_is_422_and_changes_nothing(
        vigil: Harness, field: str) -> None:
    before = a_rule(vigil)
    resp = vigil.client.patch(f"{RULES}/{before['id']}", headers=vigil.auth,
                              json={"description": "changed", field: None})
    assert resp.status_code == 422, resp.text
    assert field_of(resp) == field
    assert rule(vigil, before["id"]) == before


@pytest.mark.parametrize("field", NULLABLE_RULE_FIELDS)
def test_null_unsets_an_optional_rule_field(vigil: Harness, field: str) -> None:
    made = a_rule(vigil)
    resp = vigil.client.patch(f"{RULES}/{made['id']}", headers=vigil.auth, json={field: None})
    assert resp.status_code == 200, resp.text
    assert resp.json()[field] is None
    assert rule(vigil, made["id"]) == {**made, field: None,
                                       "updated_at": resp.json()["updated_at"]}


# --- 3. integers beyond 64 bits ---------------------------------------------------------

ID_ENDPOINTS = [
    ("GET", "/api/v1/incidents/{id}", "incident_id"),
    ("PATCH", "/api/v1/incidents/{id}", "incident_id"),
    ("POST", "/api/v1/incidents/{id}/acknowledge", "incident_id"),
    ("DELETE", "/api/v1/incidents/1/links/{id}", "other_id"),
    ("GET", "/api/v1/incidents/{id}/escalation", "incident_id"),
    ("GET", "/api/v1/alerts/{id}", "alert_id"),
    ("POST", "/api/v1/alerts/{id}/resolve", "alert_id"),
    ("GET", "/api/v1/schedules/{id}", "schedule_id"),
    ("DELETE", "/api/v1/schedules/{id}", "schedule_id"),
    ("GET", "/api/v1/schedules/{id}/shifts", "schedule_id"),
    ("GET", "/api/v1/users/{id}", "user_id"),
    ("DELETE", "/api/v1/users/{id}", "user_id"),
    ("DELETE", "/api/v1/users/1/contact-methods/{id}", "cm_id"),
    ("GET", "/api/v1/teams/{id}", "team_id"),
    ("DELETE", "/api/v1/teams/{id}", "team_id"),
    ("GET", "/api/v1/services/{id}", "service_id"),
    ("GET", "/api/v1/escalation-policies/{id}", "policy_id"),
    ("DELETE", "/api/v1/escalation-policies/{id}", "policy_id"),
    ("DELETE", "/api/v1/channels/{id}", "channel_id"),
    ("DELETE", "/api/v1/routing-rules/{id}", "rule_id"),
    ("DELETE", "/api/v1/silences/{id}", "silence_id"),
    ("GET", "/api/v1/maintenance-windows/{id}", "window_id"),
    ("DELETE", "/api/v1/inhibition-rules/{id}", "rule_id"),
    ("GET", "/api/v1/correlation-rules/{id}", "rule_id"),
    ("DELETE", "/api/v1/correlation-rules/{id}", "rule_id"),
    ("DELETE", "/api/v1/assignment-rules/{id}", "policy_id"),
    ("GET", "/api/v1/integrations/{id}", "integration_id"),
    ("DELETE", "/api/v1/integrations/{id}", "integration_id"),
    ("POST", "/api/v1/integrations/{id}/rotate-key", "integration_id"),
    ("DELETE", "/api/v1/api-keys/{id}", "key_id"),
]


@pytest.mark.parametrize(("method", "path", "field"), ID_ENDPOINTS)
def test_an_id_beyond_64_bits_in_a_path_is_422_naming_it(
        vigil: Harness, method: str, path: str, field: str) -> None:
    for bad in (TOO_BIG, TOO_SMALL):
        resp = vigil.client.request(method, path.format(id=bad), headers=vigil.auth,
                                    json={} if method == "PATCH" else None)
        assert resp.status_code == 422, (bad, resp.text)
        assert field_of(resp) == field
    # The largest id its table can hold is fine: it names nothing.
    big = "/incidents/" in path or "/alerts/" in path
    largest = 2**63 - 1 if big else 2**31 - 1
    assert vigil.client.request(method, path.format(id=largest), headers=vigil.auth,
                                json={} if method == "PATCH" else None).status_code == 404
    if not big:  # configuration ids are 32-bit
        resp = vigil.client.request(method, path.format(id=2**31), headers=vigil.auth)
        assert resp.status_code == 422 and field_of(resp) == field, resp.text


def test_an_id_beyond_64_bits_in_a_body_or_query_is_422_naming_it(vigil: Harness) -> None:
    inc = an_incident(vigil)
    url = f"/api/v1/incidents/{inc['id']}"
    for path, body, field in [
        (f"{url}/merge", {"into": TOO_BIG}, "into"),
        (f"{url}/links", {"incident_id": TOO_BIG}, "incident_id"),
        (f"{url}/split", {"alert_ids": [TOO_BIG]}, "alert_ids[0]"),
        ("/api/v1/incidents", {"title": "x", "alert_ids": [TOO_SMALL]}, "alert_ids[0]"),
        ("/api/v1/incidents/bulk", {"ids": [TOO_BIG], "action": "acknowledge"}, "ids[0]"),
        ("/api/v1/notification-templates/preview", {"incident_id": TOO_BIG}, "incident_id"),
    ]:
        resp = vigil.client.post(path, headers=vigil.auth, json=body)
        assert resp.status_code == 422, (path, resp.text)
        assert field_of(resp) == field, path
    for path, params, field in [
        ("/api/v1/alerts", {"integration_id": TOO_BIG}, "integration_id"),
        ("/api/v1/deliveries", {"incident_id": TOO_BIG}, "incident_id"),
    ]:
        resp = vigil.client.get(path, headers=vigil.auth, params=params)
        assert resp.status_code == 422, (path, resp.text)
        assert field_of(resp) == field
    assert detail(vigil, inc["id"]) == inc


def cursor(value: Any, ident: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([value, ident])).decode().rstrip("=")


@pytest.mark.parametrize("bad", [
    cursor("2026-03-01T12:00:00", 1),  # a naive time
    cursor("2026-03-01T12:00:00+00:00", TOO_BIG),
    cursor("2026-03-01T12:00:00+00:00", "1"),
])
def test_a_bad_cursor_is_422_naming_it(vigil: Harness, bad: str) -> None:
    vigil.post_alertmanager(am(alert("HighLatency", instance="a")))
    for path in ("/api/v1/alerts", "/api/v1/incidents"):
        resp = vigil.client.get(path, headers=vigil.auth, params={"cursor": bad})
        assert resp.status_code == 422, (path, resp.text)
        assert field_of(resp) == "cursor"


@pytest.mark.parametrize(("sort", "value"), [("severity", 2**15), ("severity", TOO_BIG),
                                             ("occurrences", 2**31), ("id", TOO_BIG)])
def test_a_cursor_beyond_its_column_is_422(vigil: Harness, sort: str, value: int) -> None:
    for path in ("/api/v1/alerts", "/api/v1/incidents"):
        if path.endswith("incidents") and sort == "occurrences":
            continue
        resp = vigil.client.get(path, headers=vigil.auth,
                                params={"sort": sort, "cursor": cursor(value, 1)})
        assert resp.status_code == 422, resp.text
        assert field_of(resp) == "cursor"


# --- 4. a NUL in a label filter ---------------------------------------------------------

@pytest.mark.parametrize("label", ["env\x00=prod", "env=pr\x00od"])
def test_a_nul_in_a_label_filter_is_422_naming_it(vigil: Harness, label: str) -> None:
    vigil.post_alertmanager(am(alert("HighLatency", instance="a", env="prod")))
    resp = vigil.client.get("/api/v1/alerts", headers=vigil.auth, params={"label": label})
    assert resp.status_code == 422, resp.text
    assert field_of(resp) == "label"
    assert len(vigil.alerts(label="env=prod")) == 1


# --- the web UI's incident page and lookup ----------------------------------------------

def test_the_incident_page_refuses_ids_beyond_64_bits(vigil: Harness) -> None:
    inc = an_incident(vigil)
    sign_in(vigil)
    for params, field in [({"alerts_before": TOO_BIG}, "alerts_before"),
                          ({"timeline_before": TOO_BIG}, "timeline_before")]:
        resp = vigil.client.get(f"/ui/incidents/{inc['id']}", params=params)
        assert resp.status_code == 422, resp.text
        assert field_of(resp) == field
    assert vigil.client.get(f"/ui/incidents/{TOO_BIG}").status_code == 422
    for number in (str(2**31), str(TOO_BIG), "9" * 5000):
        resp = vigil.client.get("/ui/incidents/lookup", params={"number": number})
        assert resp.status_code == 404, resp.text
        assert field_of(resp) == "number"
    bad = vigil.client.get("/ui/incidents/lookup", params={"number": "INC-\u00b2"})
    assert bad.status_code == 422 and field_of(bad) == "number"
    assert vigil.client.get("/ui/incidents/lookup", params={"number": "INC-1"}).json() == {
        "id": inc["id"], "number": 1}


def test_a_contact_method_id_beyond_its_column_is_422(vigil: Harness) -> None:
    user = vigil.client.post("/api/v1/users", headers=vigil.auth,
                             json={"username": "ana", "name": "Ana", "email": "ana@example.com"})
    assert user.status_code == 201, user.text
    for bad in (2**31, TOO_BIG):
        resp = vigil.client.post(f"/api/v1/users/{user.json()['id']}/notification-rules",
                                 headers=vigil.auth, json={"contact_method_id": bad})
        assert resp.status_code == 422, resp.text
        assert field_of(resp) == "contact_method_id"


@pytest.mark.parametrize("delay", [TOO_BIG, 10**15])
def test_an_escalation_delay_beyond_timedelta_is_422(vigil: Harness, delay: int) -> None:
    resp = vigil.client.post("/api/v1/escalation-policies", headers=vigil.auth, json={
        "name": "p", "steps": [{"targets": [{"user": "ana"}], "delay_minutes": delay}]})
    assert resp.status_code == 422, resp.text
    assert field_of(resp) == "steps[0].delay_minutes"
    assert vigil.client.get("/api/v1/escalation-policies", headers=vigil.auth).json() in (
        [], {"items": []})
