"""secrets: channel secrets and signing keys encrypted at rest

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

# No schema change: the values stored in plain text before this revision (the signing
# secret of cookies and action links, the secrets in channel configs) are encrypted with
# the key of ``vigil.auth.secrets_at_rest`` (VIGIL_SECRET_KEY, or the key file, made here if
# there is something to encrypt). The downgrade decrypts them again.

_app = sa.table("app_secrets", sa.column("name", sa.String), sa.column("value", sa.String))
_channels = sa.table("notification_channels", sa.column("id", sa.Integer),
                     sa.column("kind", sa.String),
                     sa.column("config", sa.JSON().with_variant(JSONB(), "postgresql")))


def _rewrite(seal: bool) -> None:
    from vigil.auth.secrets_at_rest import is_sealed, keyring
    from vigil.notify import service as svc

    bind = op.get_bind()
    app_rows = bind.execute(sa.select(_app.c.name, _app.c.value)).all()
    channel_rows = bind.execute(sa.select(_channels.c.id, _channels.c.kind,
                                          _channels.c.config)).all()
    app: list[tuple[str, str]] = []
    channels: list[tuple[int, str, dict[str, Any]]] = []
    if seal:
        app = [(n, v) for n, v in app_rows if n == "links" and not is_sealed(v)]
        channels = [(i, k, c) for i, k, c in channel_rows if svc.needs_sealing(k, c)]
    else:
        app = [(n, v) for n, v in app_rows if is_sealed(v)]
        channels = [(i, k, c) for i, k, c in channel_rows
                    if any(is_sealed(v) for v in _strings(c))]
    if not app and not channels:
        return  # nothing to do: no key is needed (nor a key file made)
    keys = keyring(bind)
    for name, value in app:
        new = keys.encrypt(value) if seal else keys.decrypt(value)
        bind.execute(_app.update().where(_app.c.name == name).values(value=new))
    for id_, kind, config in channels:
        plain = svc.open_config(config, keys)
        new_config = svc.seal_config(kind, plain, keys) if seal else plain
        bind.execute(_channels.update().where(_channels.c.id == id_)
                     .values(config=new_config))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def upgrade() -> None:
    _rewrite(seal=True)


def downgrade() -> None:
    _rewrite(seal=False)
