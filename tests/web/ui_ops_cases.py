"""What the operations page tests share: the pages (``PAGES``), a schedule, the start tags
of a page (``elements``), API calls with the admin key (``api``) and Alertmanager alerts
ingested and found again (``alert``, ``ingest``, ``alert_id``)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from conftest import Harness
from incident_api import am

PAGES = ("/ui", "/ui/alerts", "/ui/oncall", "/ui/escalation-policies", "/ui/services",
         "/ui/teams", "/ui/users", "/ui/integrations", "/ui/silences")
SCHEDULE = {"name": "primary", "time_zone": "UTC",
            "layers": [{"name": "daily", "rotation": {
                "type": "daily", "start": "2026-02-27T09:00",
                "participants": ["alice", "bob", "carol"]}}]}


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.tags


def api(h: Harness, method: str, path: str, expect: int, **kwargs: Any) -> Any:
    resp = h.client.request(method, path, headers=h.auth, **kwargs)
    assert resp.status_code == expect, resp.text
    return resp.json() if resp.content else None


def ingest(h: Harness, *alerts: dict[str, Any]) -> None:
    resp = h.post_alertmanager(am(*alerts))
    assert resp.status_code == 202, resp.text


def alert_id(h: Harness, name: str) -> int:
    (found,) = [a for a in h.alerts() if a["name"] == name and a["status"] != "resolved"]
    return int(found["id"])
