"""What the pipeline writes of integrations in a batch's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, update

from vigil.integrations.models import Integration

_integrations = cast(Table, Integration.__table__)


_MARK_RECEIVED = (update(_integrations)
                  .where(_integrations.c.id.in_(bindparam("ids", expanding=True)))
                  .values(last_received_at=bindparam("now")))


def mark_received(conn: Connection, integration_ids: Iterable[int], now: datetime) -> None:
    """Integrations' "last alert received"."""
    ids = sorted(integration_ids)
    if ids:
        conn.execute(_MARK_RECEIVED, {"ids": ids, "now": now})
