"""Shared by the schedule API tests (tests/oncall/test_schedules_api*.py): the people to put
on call (the users fixture), schedule bodies, and request helpers that check the status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from conftest import Harness
from oncall_people import add_users

BASE = "/api/v1/schedules"


USERS = ("alice", "bob", "carol", "dave")


def u(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def body(name: str = "primary", participants: tuple[str, ...] = ("alice", "bob", "carol"),
         **extra: Any) -> dict[str, Any]:
    return {"name": name, "time_zone": "UTC",
            "layers": [{"name": "daily", "rotation": {
                "type": "daily", "start": "2026-02-27T09:00",
                "participants": list(participants)}}], **extra}


SECONDARY = {"name": "secondary", "time_zone": "Europe/Berlin",
             "layers": [{"rotation": {"type": "weekly", "start": "2026-02-23",
                                      "handoff": "09:00", "participants": ["dave", "bob"]}}]}


@pytest.fixture(name="users")
def users_fixture(vigil: Harness) -> dict[str, tuple[int, str]]:
    """The people the tests put on call; a test module imports this to have ``users``."""
    return add_users(vigil.ctx.db, vigil.clock.now(), *USERS)


def call(h: Harness, method: str, path: str, expect: int, **kwargs: Any) -> Any:
    resp = h.client.request(method, path, headers=kwargs.pop("headers", h.auth), **kwargs)
    assert resp.status_code == expect, resp.text
    return resp.json() if resp.content and "json" in resp.headers["content-type"] else resp


def create(h: Harness, data: dict[str, Any]) -> dict[str, Any]:
    made: dict[str, Any] = call(h, "POST", BASE, 201, json=data)
    return made


def on_call(h: Harness, at: str) -> dict[str, list[str]]:
    got = call(h, "GET", "/api/v1/oncall", 200, params={"at": at})
    return {s["name"]: s["on_call"] for s in got["schedules"]}


def error_field(h: Harness, method: str, path: str, status: int, **kwargs: Any) -> str:
    field: str = call(h, method, path, status, **kwargs)["error"]["field"]
    return field


def override(kind: str, user: str, start: int, end: int, **extra: Any) -> dict[str, Any]:
    """An override on Sunday 2026-03-01 from ``start`` to ``end`` o'clock UTC."""
    return {"type": kind, "user": user, "start": f"2026-03-01T{start:02}:00:00Z",
            "end": f"2026-03-01T{end:02}:00:00Z", **extra}
