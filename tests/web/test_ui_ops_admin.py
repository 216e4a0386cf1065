"""The operations pages people configure (configuration, the YAML helper, integrations),
which write forms each role sees, and editing and deleting users, teams, services and
policies: rendered from real data on both databases, signed in through ``/login``, and
the calls their forms make to the API with the session cookie and the CSRF header."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from ui_ops_cases import PAGES, SCHEDULE, alert_id, api, elements, ingest

from conftest import Harness
from incident_api import alert
from ui_session import add_user, get, sign_in


@pytest.fixture
def admin(vigil: Harness) -> str:
    add_user(vigil, "root", "admin")
    return sign_in(vigil, "root")


# --- configuration --------------------------------------------------------------------------

def test_config_pages(vigil: Harness, admin: str) -> None:
    for name in ("alice", "bob"):
        add_user(vigil, name, password=False)
    api(vigil, "POST", "/api/v1/schedules", 201,
        json={**SCHEDULE, "layers": [{"rotation": {
            "type": "daily", "start": "2026-02-27T09:00", "participants": ["alice", "bob"]}}]})
    api(vigil, "POST", "/api/v1/teams", 201, json={"name": "sre team", "members": ["alice"]})
    policy = api(vigil, "POST", "/api/v1/escalation-policies", 201, json={
        "name": "critical-firing", "conditions": {"severities": ["critical"]},
        "steps": [{"targets": [{"schedule": "primary"}]},
                  {"delay": "5m", "targets": [{"team": "sre team"}, {"user": "bob"}]}]})
    api(vigil, "POST", "/api/v1/services", 201, json={
        "name": "checkout", "team": "sre team", "escalation_policy": "critical-firing",
        "runbook_links": [{"title": "Runbook", "url": "https://runbooks.example.com/c"}]})

    listing = get(vigil, "/ui/escalation-policies")
    assert f'href="/ui/escalation-policies/{policy["id"]}">critical-firing' in listing
    assert 'id="policy-form"' in listing
    detail = get(vigil, f"/ui/escalation-policies/{policy['id']}")
    assert 'href="/ui/oncall/1">primary' in detail or "/ui/oncall/" in detail
    assert 'href="/ui/teams#team-sre-team">sre team' in detail and "after <strong>5m" in detail
    assert "service <a" in detail and "name: critical-firing" in detail  # YAML to edit

    services = get(vigil, "/ui/services")
    assert 'id="service-checkout"' in services
    assert 'href="https://runbooks.example.com/c"' in services
    teams = get(vigil, "/ui/teams")
    assert 'id="team-sre-team"' in teams and "Alice" in teams and "checkout" in teams
    users = get(vigil, "/ui/users")
    assert 'id="user-alice"' in users and "no contact method" in users
    assert 'id="user-form"' in users and 'data-ops-api="/api/v1/users"' in users


def test_yaml_helper_needs_csrf(vigil: Harness, admin: str) -> None:
    text = "name: x\nsteps:\n  - targets: [{user: alice}]\nwhen: 2026-03-01\n"
    resp = vigil.client.post("/ui/parse-yaml", json={"text": text},
                             headers={"X-CSRF-Token": admin})
    assert resp.status_code == 200, resp.text
    assert resp.json()["value"] == {"name": "x", "steps": [{"targets": [{"user": "alice"}]}],
                                    "when": "2026-03-01"}
    assert vigil.client.post("/ui/parse-yaml", json={"text": text}).status_code == 403
    bad = vigil.client.post("/ui/parse-yaml", json={"text": "a: [b"},
                            headers={"X-CSRF-Token": admin})
    assert bad.status_code == 422


def test_integrations_page_snippets(vigil: Harness, admin: str) -> None:
    """The snippets hold a placeholder naming the key's last characters, never a key
    (integrations.js puts a new key in, once, in the browser)."""
    ingest(vigil, alert("Ping"))
    html = get(vigil, "/ui/integrations")
    base = vigil.ctx.settings.base_url

    def hole(kind: str) -> str:
        return f"&lt;key …{vigil.keys[kind][-4:]}&gt;"

    for key in vigil.keys.values():
        assert key not in html
    am_url = f"{base}/api/v1/ingest/alertmanager/{hole('alertmanager')}"
    assert re.search(r'receivers:\n  - name: vigil-alertmanager-test\n    webhook_configs:\n'
                     rf'      - url: &#34;{re.escape(am_url)}&#34;\n        send_resolved: true',
                     html)
    assert f"{base}/api/v1/ingest/grafana/{hole('grafana')}" in html
    assert f"curl -X POST &#39;{base}/v2/enqueue&#39;" in html
    assert f"&#34;routing_key&#34;: &#34;{hole('pagerduty')}&#34;" in html
    assert f"Authorization: GenieKey {hole('opsgenie')}" in html
    assert f"{base}/api/v1/ingest/generic/{hole('generic')}" in html
    iid = vigil.integration_ids["alertmanager"]
    assert f'data-key-placeholder="{hole("alertmanager")}"' in html
    assert f'data-rotate-key="/api/v1/integrations/{iid}/rotate-key"' in html
    row = html[html.index(f'id="integration-row-{iid}"'):]
    assert "ago</time>" in row[:row.index("</tr>")]  # it last received just now
    assert 'id="integration-form"' in html and "/static/integrations.js" in html

    made = vigil.client.post("/api/v1/integrations", headers={"X-CSRF-Token": admin},
                             json={"name": "new one", "type": "grafana"})
    assert made.status_code == 201, made.text
    page = get(vigil, "/ui/integrations")
    assert f'id="integration-{made.json()["id"]}"' in page
    assert made.json()["key"] not in page

    rotated = vigil.client.post(f"/api/v1/integrations/{iid}/rotate-key",
                                params={"grace_seconds": 3600},
                                headers={"X-CSRF-Token": admin})
    assert rotated.status_code == 200, rotated.text
    page = get(vigil, "/ui/integrations")
    assert rotated.json()["key"] not in page
    assert f'…{rotated.json()["key"][-4:]}' in page
    assert f'id="previous-key-{iid}"' in page


# --- roles ----------------------------------------------------------------------------------

WRITE_FORMS = {"silence-form", "override-form", "swap-form", "user-form", "team-form",
               "service-form", "integration-form", "policy-form", "schedule-form",
               "new-silence-form", "maintenance-form", "recurring-maintenance-form"}


RESPONDER_FORMS = {"silence-form", "override-form", "swap-form", "new-silence-form",
                   "maintenance-form", "recurring-maintenance-form"}


def forms_on(h: Harness, paths: list[str]) -> set[str]:
    found = set()
    for path in paths:
        found |= {str(a.get("id")) for tag, a in elements(get(h, path)) if tag == "form"}
    return found & WRITE_FORMS


@pytest.mark.parametrize("role", ["viewer", "responder", "admin"])
def test_write_forms_follow_the_role(vigil: Harness, role: str) -> None:
    add_user(vigil, "alice", password=False)
    sid = api(vigil, "POST", "/api/v1/schedules", 201, json={
        **SCHEDULE, "layers": [{"rotation": {"type": "daily", "start": "2026-02-27T09:00",
                                             "participants": ["alice"]}}]})["id"]
    api(vigil, "POST", "/api/v1/escalation-policies", 201, json={
        "name": "p", "steps": [{"targets": [{"user": "alice"}]}]})
    api(vigil, "POST", "/api/v1/silences", 201,
        json={"matchers": ['service="db"'], "duration_minutes": 60})
    ingest(vigil, alert("Ping"))
    add_user(vigil, "someone", role)
    sign_in(vigil, "someone")
    paths = [*PAGES, f"/ui/alerts/{alert_id(vigil, 'Ping')}", f"/ui/oncall/{sid}",
             "/ui/escalation-policies/1"]
    expected = {"viewer": set(), "responder": RESPONDER_FORMS, "admin": WRITE_FORMS}[role]
    assert forms_on(vigil, paths) == expected
    buttons = "".join(get(vigil, p) for p in paths)
    assert ("data-ops-call" in buttons) is (role != "viewer")


# --- editing and deleting users, teams, services and policies -------------------------------

def forms_by_id(html: str) -> dict[str, dict[str, str | None]]:
    """The ops.js forms (data-ops) of a page by id."""
    return {str(a.get("id")): a for tag, a in elements(html) if tag == "form" and "data-ops" in a}


class Unlabelled(HTMLParser):
    """The names of form fields that are neither inside a <label> nor aria-labelled."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.missing: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.depth += 1
        elif (tag in ("input", "select", "textarea") and a.get("type") != "hidden"
              and not self.depth and "aria-label" not in a and "id" not in a):
            self.missing.append(str(a.get("name")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.depth -= 1


def unlabelled(html: str) -> list[str]:
    parser = Unlabelled()
    parser.feed(html)
    return parser.missing


def manage_setup(h: Harness) -> dict[str, Any]:
    for name in ("alice", "bob", "carol"):
        add_user(h, name, password=False)
    policy = api(h, "POST", "/api/v1/escalation-policies", 201, json={
        "name": "p", "steps": [{"targets": [{"user": "alice"}]}]})
    team = api(h, "POST", "/api/v1/teams", 201, json={
        "name": "sre", "members": ["alice"], "escalation_policy": "p", "description": "d"})
    service = api(h, "POST", "/api/v1/services", 201, json={
        "name": "checkout", "team": "sre", "escalation_policy": "p",
        "runbook_links": [{"title": "Runbook", "url": "https://runbooks.example.com/c"}]})
    users = {u["username"]: u["id"] for u in api(h, "GET", "/api/v1/users", 200)}
    return {"policy": policy["id"], "team": team["id"], "service": service["id"],
            "alice": users["alice"]}


def test_admin_sees_edit_and_delete_forms(vigil: Harness, admin: str) -> None:
    ids = manage_setup(vigil)
    uid, tid, sid, pid = ids["alice"], ids["team"], ids["service"], ids["policy"]
    expected = {
        "/ui/users": {
            f"user-edit-{uid}": (f"/api/v1/users/{uid}", "PATCH"),
            f"user-password-{uid}": (f"/api/v1/users/{uid}/password", "PUT"),
            f"user-contact-{uid}": (f"/api/v1/users/{uid}/contact-methods", None),
            f"user-delete-{uid}": (f"/api/v1/users/{uid}", "DELETE")},
        "/ui/teams": {f"team-edit-{tid}": (f"/api/v1/teams/{tid}", "PATCH"),
                      f"team-delete-{tid}": (f"/api/v1/teams/{tid}", "DELETE")},
        "/ui/services": {f"service-edit-{sid}": (f"/api/v1/services/{sid}", "PATCH"),
                         f"service-delete-{sid}": (f"/api/v1/services/{sid}", "DELETE")},
        "/ui/escalation-policies": {
            f"policy-edit-{pid}": (f"/api/v1/escalation-policies/{pid}", "PUT"),
            f"policy-delete-{pid}": (f"/api/v1/escalation-policies/{pid}", "DELETE")},
        f"/ui/escalation-policies/{pid}": {
            "policy-form": (f"/api/v1/escalation-policies/{pid}", "PUT"),
            f"policy-delete-{pid}": (f"/api/v1/escalation-policies/{pid}", "DELETE")},
    }
    for path, wanted in expected.items():
        html = get(vigil, path)
        forms = forms_by_id(html)
        for form_id, (url, method) in wanted.items():
            assert form_id in forms, (path, form_id)
            assert forms[form_id]["data-ops-api"] == url, (path, form_id)
            assert forms[form_id].get("data-method") == method, (path, form_id)
        assert ("<details>" in html) is (path != f"/ui/escalation-policies/{pid}")
        assert unlabelled(html) == [], path
    users = get(vigil, "/ui/users")
    assert f"user-rule-{uid}" not in forms_by_id(users)  # no contact method to use yet
    assert 'name="replace_with" data-query' in users and 'data-reveal-on="409" hidden' in users
    teams = get(vigil, "/ui/teams")
    assert 'data-list data-empty="[]" rows="3" class="mono" spellcheck="false">alice</textarea>' \
        in teams and '<option value="p" selected>p</option>' in teams
    services = get(vigil, "/ui/services")
    assert "Runbook | https://runbooks.example.com/c\n</textarea>" in services
    assert "name: p\nsteps:" in get(vigil, "/ui/escalation-policies")


@pytest.mark.parametrize("role", ["viewer", "responder"])
def test_no_edit_forms_without_admin(vigil: Harness, role: str) -> None:
    manage_setup(vigil)
    add_user(vigil, "someone", role)
    sign_in(vigil, "someone")
    for path in ("/ui/users", "/ui/teams", "/ui/services", "/ui/escalation-policies",
                 "/ui/escalation-policies/1"):
        html = get(vigil, path)
        assert not forms_by_id(html), path
        assert "data-ops-api" not in html and "data-ops-call" not in html, path
        assert 'class="manage"' not in html and "<details>" not in html, path


def test_session_patch_edits_a_team(vigil: Harness, admin: str) -> None:
    ids = manage_setup(vigil)
    url = f"/api/v1/teams/{ids['team']}"
    body = {"members": ["bob", "carol"], "escalation_policy": None, "description": ""}
    assert vigil.client.patch(url, json=body).status_code == 403  # no CSRF header
    resp = vigil.client.patch(url, json=body, headers={"X-CSRF-Token": admin})
    assert resp.status_code == 200, resp.text
    assert resp.json()["members"] == ["bob", "carol"]
    assert resp.json()["escalation_policy"] is None and resp.json()["description"] == ""
    teams = get(vigil, "/ui/teams")
    start = teams.index('id="team-sre"')
    card = teams[start:teams.index("</section>", start)]
    assert "Bob" in card and "Carol" in card and 'href="/ui/users#user-alice"' not in card
    assert '<option value="p" selected>' not in card

    service = vigil.client.patch(f"/api/v1/services/{ids['service']}",
                                 headers={"X-CSRF-Token": admin},
                                 json={"team": None, "runbook_links": []})
    assert service.status_code == 200, service.text
    assert "runbooks.example.com" not in get(vigil, "/ui/services")
    gone = vigil.client.delete(f"/api/v1/escalation-policies/{ids['policy']}",
                               headers={"X-CSRF-Token": admin})
    assert gone.status_code == 409 and 'service "checkout"' in gone.json()["error"]["message"]


def test_users_page_shows_contact_methods_and_rules(vigil: Harness, admin: str) -> None:
    uid = manage_setup(vigil)["alice"]
    csrf = {"X-CSRF-Token": admin}
    method = api(vigil, "POST", f"/api/v1/users/{uid}/contact-methods", 201,
                 json={"type": "sms", "address": "+4915112345678", "label": "mobile"})
    html = get(vigil, "/ui/users")
    assert f'id="contact-method-{method["id"]}"' in html and "+4915112345678" in html
    assert "(mobile)" in html and "(no rules)" in html
    assert f"user-rule-{uid}" in forms_by_id(html)

    rule = vigil.client.post(f"/api/v1/users/{uid}/notification-rules", headers=csrf,
                             json={"contact_method_id": method["id"], "urgency": "high",
                                   "delay_minutes": 5})
    assert rule.status_code == 201, rule.text
    after = get(vigil, "/ui/users")
    assert f'id="notification-rule-{rule.json()["id"]}">high urgency, after 5 min' in after
    assert (f'data-url="/api/v1/users/{uid}/notification-rules/{rule.json()["id"]}"'
            in after)
    row = after[after.index('id="user-alice"'):after.index("</tr>", after.index('id="user-alice"'))]
    assert "no contact method" not in row

    edited = vigil.client.patch(f"/api/v1/users/{uid}", headers=csrf,
                                json={"name": "Alice A", "time_zone": "Europe/Berlin"})
    assert edited.status_code == 200, edited.text
    password = vigil.client.put(f"/api/v1/users/{uid}/password", headers=csrf,
                                json={"password": "another-long-one"})
    assert password.status_code == 204, password.text
    refused = vigil.client.delete(f"/api/v1/users/{uid}", headers=csrf)
    assert refused.status_code == 409 and "replace_with" in refused.json()["error"]["message"]
    handed = vigil.client.delete(f"/api/v1/users/{uid}", params={"replace_with": "bob"},
                                 headers=csrf)
    assert handed.status_code == 204, handed.text
    assert 'id="user-alice"' not in get(vigil, "/ui/users")
