"""Advisory locks that serialize nodes touching the same alert identity or incident group
(PostgreSQL; SQLite has one writer and needs none)."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

from sqlalchemy import Connection, text


def fingerprint_lock(tenant_id: int, fingerprint: str) -> str:
    """The ``lock_keys`` name of an alert identity."""
    return f"{tenant_id}:fp:{fingerprint}"


def group_lock(tenant_id: int, key: str) -> str:
    """The ``lock_keys`` name of an incident group."""
    return f"{tenant_id}:group:{key}"


def lock_keys(conn: Connection, names: Iterable[str]) -> None:
    """On PostgreSQL, serialize nodes that touch the same fingerprints or incident groups
    (transaction-scoped advisory locks, taken in a fixed order so nodes never deadlock)."""
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({struct.unpack(">q", hashlib.sha256(n.encode()).digest()[:8])[0]
                   for n in names})
    conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) "
            "WITH ORDINALITY AS t(k, n) ORDER BY n"
        ),
        {"keys": keys},
    )
