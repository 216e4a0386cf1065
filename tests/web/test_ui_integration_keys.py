"""The integrations page in Debian's Chromium (Playwright) against a real ``vigil serve``:
a new integration's key and a rotated key are shown once, with a Copy button, and put into
the page's URL and snippets; after a reload only the last characters remain."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from server import Server
from ui_browser import sign_up

pytestmark = pytest.mark.e2e

FIRING = {"version": "4", "status": "firing",
          "alerts": [{"status": "firing", "labels": {"alertname": "FromTheUI"}}]}


def send(server: Server, key: str) -> int:
    return httpx.post(f"{server.url}/api/v1/ingest/alertmanager/{key}", json=FIRING,
                      timeout=10).status_code


def shown_key(page: Any, iid: str) -> str:
    box = page.locator(f"#key-once-{iid}")
    box.wait_for(state="visible", timeout=10_000)
    key: str = page.locator(f"#key-once-value-{iid}").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", key), key
    return key


def test_keys_are_shown_once_after_create_and_rotate(ui_server: Server,
                                                     browser_page: Any) -> None:
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    sign_up(page)
    page.goto("/ui/integrations")
    form = page.locator("#integration-form")
    form.get_by_label("Name").fill("prod prometheus")
    form.locator("select[name=type]").select_option("alertmanager")
    form.get_by_role("button", name="Create integration").click()
    page.wait_for_url(re.compile(r"/ui/integrations#integration-\d+$"))
    iid = page.url.rsplit("-", 1)[1]
    key = shown_key(page, iid)
    section = page.locator(f"#integration-{iid}")
    assert section.locator(f"#ingest-url-{iid}").inner_text().endswith(
        f"/api/v1/ingest/alertmanager/{key}")
    assert f"/api/v1/ingest/alertmanager/{key}" in section.locator("pre.snippet").first.inner_text()
    assert section.locator(f"#key-hint-{iid}").inner_text() == f"…{key[-4:]}"
    assert send(ui_server, key) == 202

    page.reload()  # shown once: gone after a reload
    page.locator(f"#integration-{iid}").wait_for()
    assert page.locator(f"#key-once-{iid}").is_hidden()
    assert key not in page.content()
    assert f"&lt;key …{key[-4:]}&gt;" in page.content()

    rotate = page.locator(f"#rotate-key-{iid}")
    rotate.locator("select[name=grace_seconds]").select_option("3600")
    rotate.get_by_role("button", name="Rotate key").click()
    page.wait_for_load_state()
    new = shown_key(page, iid)
    assert new != key
    assert page.locator(f"#previous-key-{iid}").is_visible()
    assert send(ui_server, new) == 202 and send(ui_server, key) == 202  # in its grace period
    page.reload()
    page.locator(f"#integration-{iid}").wait_for()
    assert new not in page.content() and page.locator(f"#key-once-{iid}").is_hidden()
