"""The web UI in Debian's Chromium (Playwright) against a real ``vigil serve``: first-run
setup and sign-in, a fired alert appearing as an incident without a reload, acknowledging
with the keyboard, resolving, the timeline, an on-call override, and a silence made from an
alert. Saves a screenshot of each main page under docs/screenshots/."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server import Server
from ui_alerts import fire
from ui_browser import PASSWORD, SCREENSHOTS, sign_up

pytestmark = pytest.mark.e2e


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def test_sign_in_live_incident_keyboard_ack_resolve_and_timeline(
        ui_server: Server, browser_page: Any) -> None:
    page = browser_page
    sign_up(page)
    fire(ui_server, "PaymentsLatency", service="payments")
    page.goto("/ui/incidents")
    page.wait_for_selector("#incident-table")
    fire(ui_server, "CheckoutDown")  # while the page is open
    row = page.locator("tr.incident", has_text="CheckoutDown")
    row.wait_for(timeout=5_000)  # appears live, without a reload
    assert page.locator("tr.incident").first.inner_text().count("CheckoutDown") == 1
    shot(page, "incidents")
    page.keyboard.press("j")
    page.keyboard.press("a")
    page.locator("tr.incident[data-status='acknowledged']").first.wait_for(timeout=5_000)
    page.keyboard.press("r")
    page.locator("tr.incident[data-status='resolved']").first.wait_for(timeout=5_000)
    page.locator("tr.incident a.ref").first.click()
    page.wait_for_selector("ul#timeline")
    kinds = page.locator("ul#timeline li").evaluate_all(
        "els => els.map(e => e.dataset.kind)")
    assert kinds[:1] == ["created"] and "acknowledged" in kinds and "resolved" in kinds
    timeline = page.locator("ul#timeline").inner_text()
    assert "user:alice" in timeline
    shot(page, "incident")
    page.goto("/ui")
    page.wait_for_selector("#dashboard")
    shot(page, "dashboard")
    # Signing out and back in.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login*")
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Password", exact=True).fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    assert "Wrong username or password" in page.content()
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui")


def test_override_and_silence_from_an_alert(ui_server: Server, browser_page: Any) -> None:
    page = browser_page
    sign_up(page)
    key = {"Authorization": f"Bearer {ui_server.api_key}"}
    for user in ("bob", "carol"):
        assert httpx.post(f"{ui_server.url}/api/v1/users", headers=key, json={
            "username": user, "name": user.title(), "email": f"{user}@example.com",
            "time_zone": "UTC", "role": "responder"}).status_code == 201
    made = httpx.post(f"{ui_server.url}/api/v1/schedules", headers=key, json={
        "name": "primary", "time_zone": "UTC", "layers": [{"name": "main", "rotation": {
            "type": "weekly", "start": "2026-01-05T09:00", "participants": ["bob", "carol"]}}]})
    assert made.status_code == 201, made.text
    page.goto("/ui/oncall")
    page.wait_for_selector("#oncall-now")
    shot(page, "oncall")
    page.goto(f"/ui/oncall/{made.json()['id']}")
    page.wait_for_selector("#calendar")
    form = page.locator("#override-form")
    form.get_by_label("Person").select_option("alice")
    with page.expect_navigation():  # the form posts to the API, then the page reloads
        form.locator("button[type=submit]").click()
    got = httpx.get(f"{ui_server.url}/api/v1/schedules/{made.json()['id']}",
                    headers=key).json()
    assert [o["user"] for o in got["overrides"]] == ["alice"]
    shot(page, "schedule")
    fire(ui_server, "DiskFull", instance="db-1")
    page.goto("/ui/alerts")
    page.locator("a", has_text="DiskFull").first.click()
    page.wait_for_selector("#silence-form")
    shot(page, "alert")
    page.locator("#silence-submit").click()
    page.wait_for_url("**/ui/silences")
    silences = httpx.get(f"{ui_server.url}/api/v1/silences", headers=key).json()
    assert len(silences) == 1
    assert {m["name"] for m in silences[0]["matchers"]} >= {"alertname", "instance"}
    page.goto("/ui/silences")
    shot(page, "silences")
    for name, path in (("integrations", "/ui/integrations"), ("users", "/ui/users")):
        page.goto(path)
        shot(page, name)
