"""Bodies that are not JSON objects, on the routers outside on-call that read JSON bodies
(notifications, maintenance and inhibition, assignment and severity rules, silences,
correlation rules): a 400 naming ``body``, the same answer as the on-call API gives
(tests/oncall/test_oncall_input.py), never a 422 naming a character offset, and nothing applied."""

from __future__ import annotations

import pytest

from bad_bodies import refuses_bad_bodies
from conftest import Harness

#: (method, path, the kinds of BODIES that do not apply). No object needs to exist: the
#: body is refused before anything else.
ENDPOINTS = [
    ("POST", "/api/v1/channels", ()),
    ("PUT", "/api/v1/channels/1", ()),
    ("POST", "/api/v1/channels/1/test", ("empty", "type")),  # the address is optional
    ("POST", "/api/v1/routing-rules", ()),
    ("PUT", "/api/v1/notification-templates", ()),
    ("POST", "/api/v1/notification-templates/preview", ()),
    ("POST", "/api/v1/maintenance-windows", ()),
    ("PUT", "/api/v1/maintenance-windows/1", ()),
    ("POST", "/api/v1/inhibition-rules", ()),
    ("POST", "/api/v1/assignment-rules", ()),
    ("PUT", "/api/v1/assignment-rules/1", ()),
    ("POST", "/api/v1/severity-rules", ()),
    ("PUT", "/api/v1/severity-rules/1", ()),
    ("POST", "/api/v1/silences", ()),
    ("POST", "/api/v1/correlation-rules", ()),
    ("POST", "/api/v1/correlation-rules/test", ()),
    ("PATCH", "/api/v1/correlation-rules/1", ()),
]

#: Where a refused body would have left something behind.
LISTS = ["/api/v1/channels", "/api/v1/routing-rules", "/api/v1/maintenance-windows",
         "/api/v1/inhibition-rules", "/api/v1/assignment-rules", "/api/v1/severity-rules",
         "/api/v1/silences", "/api/v1/correlation-rules"]


@pytest.mark.parametrize(("method", "path", "exempt"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_a_body_that_is_not_a_json_object_is_a_400_naming_the_body(
        vigil: Harness, method: str, path: str, exempt: tuple[str, ...]) -> None:
    refuses_bad_bodies(vigil, method, path, exempt)
    for listed in LISTS:
        assert vigil.client.get(listed, headers=vigil.auth).json() == [], listed


def test_valid_bodies_still_reach_the_endpoints(vigil: Harness) -> None:
    rule = vigil.client.post("/api/v1/severity-rules", headers=vigil.auth, json={
        "name": "warning becomes high", "from_severity": "warning", "to_severity": "high",
        "after_minutes": 15})
    assert rule.status_code == 201, rule.text
    # Field errors inside an object stay 422s naming the field.
    bad = vigil.client.post("/api/v1/silences", headers=vigil.auth, json={"matchers": 5})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "matchers", bad.text
    # An optional body may be left out; the test send then answers for the channel itself.
    missing = vigil.client.post("/api/v1/channels/1/test", headers=vigil.auth)
    assert missing.status_code == 404, missing.text
    # The one-click action links post a form, not JSON: still no 400.
    link = vigil.client.post("/a/not-a-token", data={"x": "1"})
    assert link.status_code != 400 or link.json()["error"]["field"] != "body", link.text
