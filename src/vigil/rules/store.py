"""Loading the silences active at a batch's ``now`` (inside its transaction)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from vigil.rules.matchers import Matcher, matcher
from vigil.rules.models import Silence
from vigil.rules.mute import ActiveSilence

_silences = cast(Table, Silence.__table__)


@lru_cache(maxsize=4096)
def _compiled(items: tuple[tuple[str, str, str], ...]) -> tuple[Matcher, ...]:
    return tuple(matcher(n, o, v) for n, o, v in items)


def compiled(matchers: list[dict[str, Any]]) -> tuple[Matcher, ...]:
    return _compiled(tuple((m["name"], m["op"], m["value"]) for m in matchers))


def active_silences(conn: Connection, tenant_ids: set[int], now: datetime) -> list[ActiveSilence]:
    rows = conn.execute(
        select(_silences.c.id, _silences.c.tenant_id, _silences.c.matchers).where(
            _silences.c.tenant_id.in_(tenant_ids), _silences.c.starts_at <= now,
            _silences.c.ends_at > now)
    )
    return [ActiveSilence(r.id, r.tenant_id, compiled(r.matchers)) for r in rows]
