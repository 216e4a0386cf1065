"""People to put on call in tests."""

from __future__ import annotations

from datetime import datetime

from vigil.auth.models import User
from vigil.db import Database
from vigil.tenants.models import DEFAULT_TENANT_ID


def add_users(db: Database, now: datetime, *names: str) -> dict[str, tuple[int, str]]:
    """username -> (id, ical_token), written straight to the users table."""
    out = {}
    with db.write() as s:
        for name in names:
            row = User(tenant_id=DEFAULT_TENANT_ID, username=name, name=name.title(),
                       email=f"{name}@example.com", time_zone="UTC", role="responder",
                       password_hash=None, ical_token=f"{name}-feed-token", created_at=now,
                       updated_at=now)
            s.add(row)
            s.flush()
            out[name] = (row.id, row.ical_token)
    return out
