"""The edit and delete forms of users, teams, services and escalation policies in Debian's
Chromium (Playwright) against a real ``vigil serve``: each is made (through the UI's own
form), edited, checked on the page and through the JSON API with the same session, then
deleted, including the refusals the forms show (a user still in a team, a policy still in
use); and a viewer sees none of these forms and has their calls refused."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from server import Server
from ui_browser import PASSWORD, sign_up

pytestmark = pytest.mark.e2e



def expect(target: Any) -> Any:
    """Playwright's auto-waiting ``expect`` (imported late: ``browser_page`` skips the test
    first where Playwright is missing)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def setup_api(server: Server, method: str, path: str, expect_status: int,
              body: dict[str, Any] | None = None) -> Any:
    """A call with the admin API key, for what a test needs before it starts."""
    resp = httpx.request(method, f"{server.url}{path}", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {server.api_key}"})
    assert resp.status_code == expect_status, resp.text
    return resp.json() if resp.content else None


def session_get(page: Any, path: str, expect_status: int = 200) -> Any:
    """``GET path`` of the JSON API with the browser's session cookie."""
    resp = page.request.get(path)
    assert resp.status == expect_status, resp.text()
    return resp.json() if expect_status == 200 else None


def submit(page: Any, button: Any) -> None:
    """Click a form's submit button and wait for the reload (or redirect) that follows a
    successful API call."""
    with page.expect_navigation():
        button.click()


def add_user(server: Server, username: str, role: str = "responder") -> int:
    made = setup_api(server, "POST", "/api/v1/users", 201, {
        "username": username, "name": username.title(), "email": f"{username}@example.com",
        "time_zone": "UTC", "role": role})
    return int(made["id"])


def add_policy(server: Server, name: str) -> int:
    made = setup_api(server, "POST", "/api/v1/escalation-policies", 201, {
        "name": name, "steps": [{"delay": 0, "targets": [{"user": "alice"}]}]})
    return int(made["id"])


def test_user_create_edit_and_delete(ui_server: Server, browser_page: Any) -> None:
    page = browser_page
    sign_up(page)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/ui/users")
    new = page.locator("#user-form")
    new.get_by_label("Username", exact=True).fill("bob")
    new.get_by_label("Name", exact=True).fill("Bob Builder")
    new.get_by_label("Email", exact=True).fill("bob@example.com")
    submit(page, new.get_by_role("button", name="Create user"))
    row = page.locator("#user-bob")
    expect(row).to_contain_text("Bob Builder")
    expect(row.locator("td").nth(2)).to_have_text("responder")
    (bob,) = [u for u in session_get(page, "/api/v1/users") if u["username"] == "bob"]
    uid = bob["id"]

    # Edit every field of the form.
    page.locator("#user-manage-bob summary").click()
    form = page.locator(f"#user-edit-{uid}")
    expect(form).to_be_visible()
    form.get_by_label("Name", exact=True).fill("Robert Builder")
    form.get_by_label("Email", exact=True).fill("robert@example.com")
    form.get_by_label("Time zone", exact=True).fill("Europe/Berlin")
    form.get_by_label("Role").select_option("viewer")
    submit(page, form.get_by_role("button", name="Save"))
    expect(row.locator("th")).to_have_text("Robert Builder")
    expect(row.locator("td").nth(1)).to_have_text("robert@example.com")
    expect(row.locator("td").nth(2)).to_have_text("viewer")
    stored = session_get(page, f"/api/v1/users/{uid}")
    assert (stored["name"], stored["email"], stored["time_zone"], stored["role"]) == (
        "Robert Builder", "robert@example.com", "Europe/Berlin", "viewer")
    page.reload()
    expect(form.get_by_label("Time zone", exact=True)).to_have_value("Europe/Berlin")
    expect(form.get_by_label("Role")).to_have_value("viewer")

    # A member of a team: refused (409) until someone takes their places.
    setup_api(ui_server, "POST", "/api/v1/teams", 201, {"name": "sre",
                                                         "members": ["alice", "bob"]})
    page.reload()
    page.locator("#user-manage-bob summary").click()
    delete = page.locator(f"#user-delete-{uid}")
    replace = delete.get_by_label(re.compile("Hand their places over to"))
    expect(replace).to_be_hidden()
    delete.get_by_role("button", name="Delete user").click()
    expect(delete.locator("[data-ops-error]")).to_be_visible()
    expect(delete.locator("[data-ops-error]")).to_contain_text("sre")
    expect(replace).to_be_visible()
    assert session_get(page, f"/api/v1/users/{uid}")["username"] == "bob"
    replace.fill("alice")
    submit(page, delete.get_by_role("button", name="Delete user"))
    expect(page.locator("#user-bob")).to_have_count(0)
    expect(page.locator("#user-alice")).to_have_count(1)
    session_get(page, f"/api/v1/users/{uid}", 404)
    (team,) = session_get(page, "/api/v1/teams")
    assert team["members"] == ["alice"]


def test_team_create_edit_clear_and_delete(ui_server: Server, browser_page: Any) -> None:
    page = browser_page
    sign_up(page)
    page.on("dialog", lambda dialog: dialog.accept())
    add_user(ui_server, "bob")
    add_policy(ui_server, "sre-policy")
    page.goto("/ui/teams")
    new = page.locator("#team-form")
    new.get_by_label("Name", exact=True).fill("sre")
    new.get_by_label(re.compile("^Members")).fill("alice")
    new.get_by_label(re.compile("^Description")).fill("Site reliability")
    submit(page, new.get_by_role("button", name="Create team"))
    card = page.locator("#team-sre")
    expect(card).to_contain_text("Site reliability")
    expect(card.locator("ul li")).to_have_count(1)
    expect(card.locator("ul li")).to_contain_text("Alice Admin")
    (made,) = session_get(page, "/api/v1/teams")
    tid = made["id"]

    card.locator("summary").click()
    form = page.locator(f"#team-edit-{tid}")
    expect(form).to_be_visible()
    form.get_by_label(re.compile("^Members")).fill("alice\nbob")
    form.get_by_label("Escalation policy").select_option("sre-policy")
    form.get_by_label(re.compile("^Description")).fill("Owns checkout")
    submit(page, form.get_by_role("button", name="Save team"))
    expect(card).to_contain_text("Owns checkout")
    expect(card.locator("ul li")).to_have_count(2)
    expect(card.locator("ul li").nth(1)).to_contain_text("Bob")
    expect(card.locator("dl dd").first).to_have_text("sre-policy")
    stored = session_get(page, f"/api/v1/teams/{tid}")
    assert (stored["members"], stored["escalation_policy"], stored["description"]) == (
        ["alice", "bob"], "sre-policy", "Owns checkout")

    # Emptied fields clear the stored values (null, "" and []).
    card.locator("summary").click()
    form.get_by_label(re.compile("^Members")).fill("")
    form.get_by_label("Escalation policy").select_option("")
    form.get_by_label(re.compile("^Description")).fill("")
    submit(page, form.get_by_role("button", name="Save team"))
    expect(card.locator("dl dd").first).to_have_text("—")
    expect(card.locator("ul li")).to_have_text("No members.")
    expect(card).not_to_contain_text("Owns checkout")
    stored = session_get(page, f"/api/v1/teams/{tid}")
    assert (stored["members"], stored["escalation_policy"], stored["description"]) == (
        [], None, "")

    card.locator("summary").click()
    submit(page, page.locator(f"#team-delete-{tid}").get_by_role("button",
                                                                 name="Delete team"))
    expect(page.locator("#team-sre")).to_have_count(0)
    expect(page.locator("#teams")).to_contain_text("No teams yet.")
    session_get(page, f"/api/v1/teams/{tid}", 404)
    assert session_get(page, "/api/v1/teams") == []


def test_service_create_edit_and_delete(ui_server: Server, browser_page: Any) -> None:
    page = browser_page
    sign_up(page)
    page.on("dialog", lambda dialog: dialog.accept())
    setup_api(ui_server, "POST", "/api/v1/teams", 201, {"name": "payments",
                                                         "members": ["alice"]})
    add_policy(ui_server, "pay-policy")
    page.goto("/ui/services")
    new = page.locator("#service-form")
    new.get_by_label("Name", exact=True).fill("checkout")
    new.get_by_label(re.compile("^Description")).fill("Takes the money")
    submit(page, new.get_by_role("button", name="Create service"))
    row = page.locator("#service-checkout")
    expect(row.locator("th")).to_contain_text("Takes the money")
    expect(row.locator("td").first).to_have_text("—")
    (made,) = session_get(page, "/api/v1/services")
    sid = made["id"]
    assert made["team"] is None and made["runbook_links"] == []

    page.locator("#service-manage-checkout summary").click()
    form = page.locator(f"#service-edit-{sid}")
    expect(form).to_be_visible()
    form.get_by_label("Team").select_option("payments")
    form.get_by_label("Escalation policy").select_option("pay-policy")
    form.get_by_label(re.compile("^Description")).fill("The checkout flow")
    form.get_by_label(re.compile("^Runbook links")).fill(
        "Runbook | https://runbooks.example.com/checkout\n"
        "Dashboard | https://grafana.example.com/d/1")
    submit(page, form.get_by_role("button", name="Save service"))
    expect(row.locator("th")).to_contain_text("The checkout flow")
    expect(row.locator("td").nth(0)).to_have_text("payments")
    expect(row.locator("td").nth(1)).to_have_text("pay-policy")
    runbook = row.get_by_role("link", name="Runbook")
    expect(runbook).to_have_attribute("href", "https://runbooks.example.com/checkout")
    expect(row.get_by_role("link", name="Dashboard")).to_have_attribute(
        "href", "https://grafana.example.com/d/1")
    stored = session_get(page, f"/api/v1/services/{sid}")
    assert (stored["team"], stored["escalation_policy"], stored["description"]) == (
        "payments", "pay-policy", "The checkout flow")
    assert stored["runbook_links"] == [
        {"title": "Runbook", "url": "https://runbooks.example.com/checkout"},
        {"title": "Dashboard", "url": "https://grafana.example.com/d/1"}]
    page.reload()
    expect(form.get_by_label(re.compile("^Runbook links"))).to_have_value(
        "Runbook | https://runbooks.example.com/checkout\n"
        "Dashboard | https://grafana.example.com/d/1\n")

    page.locator("#service-manage-checkout summary").click()
    submit(page, page.locator(f"#service-delete-{sid}").get_by_role(
        "button", name="Delete service"))
    expect(page.locator("#service-checkout")).to_have_count(0)
    expect(page.locator("#services")).to_contain_text("No services yet.")
    session_get(page, f"/api/v1/services/{sid}", 404)
    # Its team is still there.
    assert [t["name"] for t in session_get(page, "/api/v1/teams")] == ["payments"]


POLICY_YAML = """name: db-oncall
steps:
  - delay: 0
    targets:
      - user: alice
"""
EDITED_YAML = """name: db-primary
repeat: 2
steps:
  - delay: 0
    targets:
      - user: alice
  - delay: 5m
    targets:
      - user: bob
"""


def test_escalation_policy_create_edit_and_delete(ui_server: Server,
                                                  browser_page: Any) -> None:
    page = browser_page
    sign_up(page)
    page.on("dialog", lambda dialog: dialog.accept())
    add_user(ui_server, "bob")
    page.goto("/ui/escalation-policies")
    new = page.locator("#policy-form")
    new.get_by_label("Definition (YAML or JSON)").fill(POLICY_YAML)
    with page.expect_navigation(url=re.compile(r"/ui/escalation-policies/\d+$")):
        new.get_by_role("button", name="Create policy").click()
    pid = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text("db-oncall")
    detail = page.locator("#policy-detail")
    expect(detail).to_contain_text("alice")
    assert session_get(page, f"/api/v1/escalation-policies/{pid}")["name"] == "db-oncall"

    # Edit on the policy's own page (YAML).
    form = page.locator("#policy-form")
    expect(form.get_by_label("Definition (YAML or JSON)")).to_have_value(
        "name: db-oncall\nsteps:\n- delay: 0\n  targets:\n  - user: alice\n")
    form.get_by_label("Definition (YAML or JSON)").fill(EDITED_YAML)
    submit(page, form.get_by_role("button", name="Save policy"))
    expect(page.get_by_role("heading", level=1)).to_have_text("db-primary")
    expect(detail).to_contain_text("2 more times")
    expect(detail.locator("ol > li")).to_have_count(2)
    expect(detail.locator("ol > li").nth(1)).to_contain_text("after 5m")
    expect(detail.locator("ol > li").nth(1)).to_contain_text("bob")
    stored = session_get(page, f"/api/v1/escalation-policies/{pid}")
    assert stored["name"] == "db-primary" and stored["repeat"] == 2
    assert [s["targets"] for s in stored["steps"]] == [[{"user": "alice"}], [{"user": "bob"}]]

    # Edit from the list (JSON this time).
    page.goto("/ui/escalation-policies")
    page.locator(f"#policy-manage-{pid} summary").click()
    row_form = page.locator(f"#policy-edit-{pid}")
    expect(row_form.get_by_label("Definition (YAML or JSON)")).to_have_value(
        re.compile("^name: db-primary\nrepeat: 2\n"))
    row_form.get_by_label("Definition (YAML or JSON)").fill(
        '{"name": "db-final", "steps": [{"targets": [{"user": "bob"}]}]}')
    submit(page, row_form.get_by_role("button", name="Save policy"))
    row = page.locator(f"#policy-{pid}")
    expect(row.locator("th a")).to_have_text("db-final")
    expect(row.locator("td").first).to_contain_text("bob")
    expect(row.locator("td").first).not_to_contain_text("alice")
    stored = session_get(page, f"/api/v1/escalation-policies/{pid}")
    assert stored["name"] == "db-final" and "repeat" not in stored

    # Refused while a team uses it: the form shows why, and the policy stays.
    team = setup_api(ui_server, "POST", "/api/v1/teams", 201, {
        "name": "dbas", "members": ["bob"], "escalation_policy": "db-final"})
    page.reload()
    expect(row.locator("td").nth(1)).to_have_text("team dbas")
    page.locator(f"#policy-manage-{pid} summary").click()
    delete = page.locator(f"#policy-delete-{pid}")
    delete.get_by_role("button", name="Delete policy").click()
    expect(delete.locator("[data-ops-error]")).to_contain_text('team "dbas"')
    assert session_get(page, f"/api/v1/escalation-policies/{pid}")["name"] == "db-final"

    # Once unused, deleted from its own page, which then goes back to the list.
    setup_api(ui_server, "PATCH", f"/api/v1/teams/{team['id']}", 200,
              {"escalation_policy": None})
    page.goto(f"/ui/escalation-policies/{pid}")
    with page.expect_navigation(url=re.compile(r"/ui/escalation-policies$")):
        page.locator(f"#policy-delete-{pid}").get_by_role("button",
                                                          name="Delete policy").click()
    expect(page.locator(f"#policy-{pid}")).to_have_count(0)
    expect(page.locator("#policies")).to_contain_text("No escalation policies yet.")
    session_get(page, f"/api/v1/escalation-policies/{pid}", 404)


def test_viewer_has_no_edit_forms_and_is_refused(ui_server: Server,
                                                  browser_page: Any) -> None:
    page = browser_page
    sign_up(page)
    vid = add_user(ui_server, "vera", role="viewer")
    setup_api(ui_server, "PUT", f"/api/v1/users/{vid}/password", 204, {"password": PASSWORD})
    pid = add_policy(ui_server, "sre-policy")
    team = setup_api(ui_server, "POST", "/api/v1/teams", 201, {
        "name": "sre", "members": ["alice"], "escalation_policy": "sre-policy"})
    service = setup_api(ui_server, "POST", "/api/v1/services", 201, {
        "name": "checkout", "team": "sre"})
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login*")
    page.get_by_label("Username", exact=True).fill("vera")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui")

    shown = {"/ui/users": "#user-vera", "/ui/teams": "#team-sre",
             "/ui/services": "#service-checkout", "/ui/escalation-policies": f"#policy-{pid}",
             f"/ui/escalation-policies/{pid}": "#policy-detail"}
    for path, selector in shown.items():
        page.goto(path)
        expect(page.locator(selector)).to_be_visible()  # the data is there ...
        expect(page.locator("form[data-ops]")).to_have_count(0)  # ... but no form
        expect(page.locator("tr.manage, details, [data-ops-call]")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile("^(Save|Delete|Create)"))
               ).to_have_count(0)

    # The API refuses the calls the forms would make, CSRF token and all.
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert csrf
    headers = {"X-CSRF-Token": csrf}
    calls = [
        ("PATCH", f"/api/v1/users/{vid}", {"role": "admin"}),
        ("PATCH", f"/api/v1/teams/{team['id']}", {"description": "mine now"}),
        ("PATCH", f"/api/v1/services/{service['id']}", {"team": None}),
        ("PUT", f"/api/v1/escalation-policies/{pid}", {"name": "x", "steps": [
            {"targets": [{"user": "vera"}]}]}),
        ("DELETE", f"/api/v1/services/{service['id']}", None),
        ("DELETE", f"/api/v1/teams/{team['id']}", None),
        ("DELETE", f"/api/v1/escalation-policies/{pid}", None),
    ]
    for method, path, body in calls:
        resp = page.request.fetch(path, method=method, headers=headers, data=body)
        assert resp.status == 403, (method, path, resp.text())
        assert "admin role" in resp.json()["error"]["message"]
    assert session_get(page, f"/api/v1/users/{vid}")["role"] == "viewer"
    stored_team = session_get(page, f"/api/v1/teams/{team['id']}")
    assert stored_team["description"] == "" and stored_team["escalation_policy"] == "sre-policy"
    assert session_get(page, f"/api/v1/services/{service['id']}")["team"] == "sre"
    assert session_get(page, f"/api/v1/escalation-policies/{pid}")["name"] == "sre-policy"
