"""The incident page's escalation in Debian's Chromium (Playwright) against a real
``vigil serve``: an alert opens an incident that escalates by its service's policy; the page
shows the policy, step 1 of 2 and its page to alice (sent through a real SMTP server), and
the next step; "Escalate now" fires step 2 and the page shows bob paged. Screenshots go to
the test's temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from channel_sinks import Sink
from server import Server
from ui_alerts import fire
from ui_browser import sign_up

pytestmark = pytest.mark.e2e


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def api(server: Server, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    resp = httpx.request(method, f"{server.url}{path}", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {server.api_key}"})
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


def reachable_by_email(server: Server, user_id: int, address: str) -> None:
    cm = api(server, "POST", f"/api/v1/users/{user_id}/contact-methods",
             {"type": "email", "address": address})
    api(server, "POST", f"/api/v1/users/{user_id}/notification-rules",
        {"contact_method_id": cm["id"], "urgency": "high", "delay_minutes": 0})


def test_escalate_now_from_the_incident_page(ui_server: Server, browser_page: Any,
                                             smtp: tuple[Sink, int],
                                             tmp_path: Path) -> None:
    page = browser_page
    sink, port = smtp
    sign_up(page)  # alice, the first administrator
    api(ui_server, "POST", "/api/v1/channels", {
        "name": "smtp", "kind": "email", "personal": True,
        "config": {"smtp_host": "127.0.0.1", "smtp_port": port, "security": "none",
                   "from_address": "vigil@example.com"}})
    bob = api(ui_server, "POST", "/api/v1/users", {
        "username": "bob", "name": "Bob", "email": "bob@example.com", "time_zone": "UTC",
        "role": "responder"})
    alice = next(u for u in api(ui_server, "GET", "/api/v1/users") if u["username"] == "alice")
    reachable_by_email(ui_server, alice["id"], "alice@example.com")
    reachable_by_email(ui_server, bob["id"], "bob@example.com")
    api(ui_server, "POST", "/api/v1/escalation-policies", {
        "name": "checkout-oncall", "steps": [
            {"delay": 0, "targets": [{"user": "alice"}]},
            {"delay_minutes": 30, "targets": [{"user": "bob"}]}]})
    api(ui_server, "POST", "/api/v1/services",
        {"name": "checkout", "escalation_policy": "checkout-oncall"})

    fire(ui_server, "CheckoutDown")
    page.goto("/ui/incidents")
    page.locator("tr.incident", has_text="CheckoutDown").locator("a.ref").click()
    page.wait_for_selector("#incident-escalation")
    # The page looks again by itself until the escalation has started and its page is sent.
    expect(page.locator("#esc-step")).to_contain_text("Step 1 of 2", timeout=15_000)
    expect(page.locator("#esc-policy")).to_contain_text("checkout-oncall")
    expect(page.locator("#esc-policy")).to_contain_text("from service checkout")
    expect(page.locator("#esc-status")).to_have_text("active")
    expect(page.locator("#esc-next")).to_contain_text("Step 2 of 2")
    expect(page.locator("#esc-next")).to_contain_text("user bob")
    expect(page.locator("#fact-escalation")).to_have_text("checkout-oncall")
    sent = page.locator("#esc-pages tr.page[data-status='sent']")
    expect(sent).to_have_count(1, timeout=15_000)
    expect(sent).to_contain_text("alice")
    page.locator("#incident-escalation").screenshot(path=str(tmp_path / "step1.png"))

    page.get_by_role("button", name="Escalate now").click()
    expect(page.locator("#esc-step")).to_contain_text("Step 2 of 2")
    expect(page.locator("#esc-status")).to_have_text("exhausted")
    expect(page.locator("#esc-next")).to_contain_text("every step has fired")
    bobs = page.locator("#esc-pages tr.page[data-status='sent']", has_text="bob")
    expect(bobs).to_have_count(1, timeout=15_000)  # planned and sent, the page looks again
    expect(page.get_by_role("button", name="Escalate now")).to_have_count(0)
    expect(page.locator("ul#timeline")).to_contain_text("Escalated by user:alice")
    page.screenshot(path=str(tmp_path / "incident.png"), full_page=True)
    assert sorted(m["To"] for m in sink.messages) == ["alice@example.com", "bob@example.com"]
    iid = page.locator("#incident").get_attribute("data-id")
    view = page.request.get(f"/api/v1/incidents/{iid}/escalation").json()
    assert (view["status"], view["step"]["number"]) == ("exhausted", 2)

    # Reassign to a person: paged now, by a one-off step.
    page.get_by_label("Reassign to").select_option("user:alice")
    page.get_by_role("button", name="Reassign", exact=True).click()
    expect(page.locator("#esc-policy")).to_contain_text("to user alice (a one-off page)")
    expect(page.locator("#esc-step")).to_contain_text("Step 1 of 1")
    alices = page.locator("#esc-pages tr.page[data-status='sent']", has_text="alice")
    expect(alices).to_have_count(2, timeout=15_000)
    page.locator("#incident-escalation").screenshot(path=str(tmp_path / "reassigned.png"))
