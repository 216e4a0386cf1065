"""The deliveries in the database, oldest first, as plain rows the delivery tests compare."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from conftest import Harness
from vigil.notify.models import Delivery


def deliveries(h: Harness) -> list[SimpleNamespace]:
    with h.ctx.db.read() as s:
        return [SimpleNamespace(**{c: getattr(d, c) for c in (
            "status", "channel_kind", "last_error", "attempts", "next_attempt_at", "event",
            "recipient")}) for d in s.scalars(select(Delivery).order_by(Delivery.id))]
