"""A real Vigil server and Debian's Chromium driven by Playwright, for the UI tests.
Skipped where Chromium or Playwright is missing, unless VIGIL_TEST_REQUIRE_E2E=1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server import SETUP_URLS, Server, start_server

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium")
                                        .exists() else None)
REQUIRE = os.environ.get("VIGIL_TEST_REQUIRE_E2E") == "1"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def need_browser() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extras install it
        if REQUIRE:
            pytest.fail("playwright is not installed")
        pytest.skip("playwright is not installed")
    if CHROMIUM is None:
        if REQUIRE:
            pytest.fail("Debian's chromium is required (VIGIL_TEST_REQUIRE_E2E=1)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return sync_playwright


@pytest.fixture
def ui_server(tmp_path: Path) -> Iterator[Server]:
    server = start_server(f"sqlite:///{tmp_path}/vigil.db", tmp_path)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def browser_page(ui_server: Server) -> Iterator[Any]:
    sync_playwright = need_browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1280, "height": 800},
                                      base_url=ui_server.url)
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


#: The first administrator's password in the browser tests.
PASSWORD = "correct horse battery"


def sign_up(page: Any) -> None:
    """First run: create the administrator "alice" through /setup, opened with the
    one-time link the server printed."""
    page.goto("/")
    page.wait_for_url("**/setup")
    page.goto(SETUP_URLS[page.url.rsplit("/setup", 1)[0]])
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Name", exact=True).fill("Alice Admin")
    page.get_by_label("Email", exact=True).fill("alice@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    page.wait_for_url("**/ui")
