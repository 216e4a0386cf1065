"""What the OpenAPI fuzzer (test_api_fuzz.py) found, each pinned on both databases: answers
in a shape the schema did not declare, and bodies the incident and alert routes took for
something else than a 400 naming ``body``."""

from __future__ import annotations

from typing import Any

import pytest

from bad_bodies import BODIES, refuses_bad_bodies
from conftest import Harness
from incident_api import alert, am, detail, incidents

JSON = {"Content-Type": "application/json"}


def an_incident(h: Harness) -> dict[str, Any]:
    h.post_alertmanager(am(alert("HighLatency", instance="a")))
    [inc] = incidents(h)
    return detail(h, inc["id"])


# --- bodies that do not parse or are not objects: 400 naming body ---------------------------

#: The incident and alert routes that read a body; (method, path, kinds of BODIES that do
#: not apply: the body is optional). No object needs to exist: the body is refused first.
ENDPOINTS = [
    ("POST", "/api/v1/incidents", ()),
    ("PATCH", "/api/v1/incidents/999", ()),
    ("POST", "/api/v1/incidents/999/comments", ()),
    ("POST", "/api/v1/incidents/999/merge", ()),
    ("POST", "/api/v1/incidents/999/split", ()),
    ("POST", "/api/v1/incidents/999/links", ()),
    ("POST", "/api/v1/incidents/bulk", ()),
    ("POST", "/api/v1/incidents/999/acknowledge", ("empty", "type")),
    ("POST", "/api/v1/incidents/999/resolve", ("empty", "type")),
    ("POST", "/api/v1/incidents/999/assign", ("empty", "type")),
    ("POST", "/api/v1/incidents/999/dismiss", ("empty", "type")),
    ("POST", "/api/v1/alerts/999/acknowledge", ("empty", "type")),
    ("POST", "/api/v1/alerts/999/resolve", ("empty", "type")),
]


@pytest.mark.parametrize(("method", "path", "exempt"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_incident_and_alert_routes_answer_a_bad_body_with_a_400_naming_it(
        vigil: Harness, method: str, path: str, exempt: tuple[str, ...]) -> None:
    # Found: bytes that are not UTF-8 answered {"detail": "There was an error parsing the
    # body"}, a shape the schema does not declare; "[1]" a 422 naming a character offset.
    refuses_bad_bodies(vigil, method, path, exempt)


@pytest.mark.parametrize("action", ["comments", "acknowledge", "resolve", "assign"])
def test_a_bad_body_changes_no_incident(vigil: Harness, action: str) -> None:
    inc = an_incident(vigil)
    for raw, headers, _, kind in BODIES:
        if kind != "json":
            continue
        resp = vigil.client.post(f"/api/v1/incidents/{inc['id']}/{action}", content=raw,
                                 headers={**vigil.auth, **headers})
        assert resp.status_code == 400 and resp.json()["error"]["field"] == "body", resp.text
    patched = vigil.client.patch(f"/api/v1/incidents/{inc['id']}", content=b'["title"]',
                                 headers={**vigil.auth, **JSON})
    assert patched.status_code == 400, patched.text
    assert detail(vigil, inc["id"]) == inc


@pytest.mark.parametrize(("path", "listed"), [
    ("/api/v1/api-keys", "/api/v1/api-keys"),
    ("/api/v1/integrations", "/api/v1/integrations"),
    ("/api/v1/outbox/failures/replay", None),
])
def test_json_that_does_not_parse_is_a_400_naming_the_body_on_every_router(
        vigil: Harness, path: str, listed: str | None) -> None:
    # Found: a 422 naming "[5]", the character where the JSON broke off.
    before = vigil.client.get(listed, headers=vigil.auth).json() if listed else None
    for raw in (b'{"name": "x",', b"\xff\xfe{}", b"{'name': 'x'}"):
        resp = vigil.client.post(path, content=raw, headers={**vigil.auth, **JSON})
        assert resp.status_code == 400, (raw, resp.text)
        error = resp.json()["error"]
        assert (error["code"], error["field"]) == ("malformed_body", "body"), error
        assert error["message"].startswith("malformed JSON"), error
    if listed:
        assert vigil.client.get(listed, headers=vigil.auth).json() == before


def test_no_such_route_or_method_answers_in_the_error_shape(vigil: Harness) -> None:
    # Found: {"detail": "Not Found"} and {"detail": "Method Not Allowed"}.
    missing = vigil.client.get("/api/v1/no-such-thing", headers=vigil.auth)
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Not Found"}}
    wrong = vigil.client.put("/api/v1/alerts", headers=vigil.auth)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
    assert wrong.json()["error"]["code"] == "method_not_allowed"


# --- the schema declares every answer ----------------------------------------------------

def openapi(h: Harness) -> dict[str, Any]:
    resp = h.client.get("/openapi.json")
    assert resp.status_code == 200
    schema: dict[str, Any] = resp.json()
    return schema


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in schema["paths"].items()
            for method, op in ops.items()]


def schema_of(answer: dict[str, Any]) -> Any:
    return answer["content"]["application/json"]["schema"]


def test_every_operation_declares_its_error_answers(vigil: Harness) -> None:
    # Found: every error answer violated the schema: FastAPI declares a 422 as
    # {"detail": [...]}, which Vigil never sends, and no other 4xx at all.
    schema = openapi(vigil)
    vigil_error = {"$ref": "#/components/schemas/ErrorBody"}
    for method, path, op in operations(schema):
        responses = op["responses"]
        for status in ("422", "4XX"):
            declared = schema_of(responses[status])
            assert declared == vigil_error or vigil_error in declared["anyOf"], (method, path)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    error = schema["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error"]
    # The answer an error gets is one the schema describes.
    wrong = vigil.client.get("/api/v1/incidents/0", headers=vigil.auth).json()
    assert set(wrong) == {"error"} and {"code", "message", "field", "details"} >= set(
        wrong["error"])


def test_source_compatible_routes_declare_their_own_answers(vigil: Harness) -> None:
    # Found: PagerDuty and Opsgenie senders get 202 (as from those services), declared 200.
    schema = openapi(vigil)
    for path, accepted, error in [
            ("/v2/enqueue", "PagerDutyAccepted", "PagerDutyError"),
            ("/api/v1/ingest/pagerduty/v2/enqueue", "PagerDutyAccepted", "PagerDutyError"),
            ("/v2/alerts", "OpsgenieAccepted", "OpsgenieError"),
            ("/v2/alerts/{identifier}/close", "OpsgenieAccepted", "OpsgenieError")]:
        responses = schema["paths"][path]["post"]["responses"]
        assert "200" not in responses
        assert schema_of(responses["202"]) == {"$ref": f"#/components/schemas/{accepted}"}
        assert {"$ref": f"#/components/schemas/{error}"} in schema_of(responses["4XX"])["anyOf"]
        assert "503" in responses
    sent = vigil.client.post("/v2/enqueue", json={
        "routing_key": vigil.keys["pagerduty"], "event_action": "trigger",
        "payload": {"summary": "disk full", "source": "db-1", "severity": "critical"}})
    assert sent.status_code == 202, sent.text
    assert set(sent.json()) == {"status", "message", "dedup_key"}


def test_metrics_and_health_declare_what_they_answer(vigil: Harness) -> None:
    # Found: /metrics answers text/plain, declared application/json.
    schema = openapi(vigil)
    assert list(schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == [
        "text/plain"]
    assert vigil.client.get("/metrics").headers["content-type"].startswith("text/plain")
    assert "503" in schema["paths"]["/health"]["get"]["responses"]
