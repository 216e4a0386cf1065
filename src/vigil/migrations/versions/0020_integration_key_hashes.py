"""integrations: keys stored hashed, shown once

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 20:00:00.000000

Each key becomes its SHA-256 (the same ``hash_secret`` ingest looks keys up by) and its
last 4 characters; the plain column goes. Senders keep their keys: nothing changes for
them. A downgrade cannot bring the keys back: it gives every integration a new random key
(the old version shows keys in its integrations list), so senders must be given it.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from vigil.auth.service import hash_secret
from vigil.db import UTCDateTime

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

_integrations = sa.table(
    'integrations', sa.column('id', sa.Integer()), sa.column('key', sa.String()),
    sa.column('key_hash', sa.String()), sa.column('key_hint', sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('key_hint', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('previous_key_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('previous_key_expires_at', UTCDateTime(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_integrations.c.id, _integrations.c.key)).all()
    if rows:
        conn.execute(
            _integrations.update().where(_integrations.c.id == sa.bindparam('row_id'))
            .values(key_hash=sa.bindparam('new_hash'), key_hint=sa.bindparam('new_hint')),
            [{'row_id': row_id, 'new_hash': hash_secret(key), 'new_hint': key[-4:]}
             for row_id, key in rows],
        )
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.alter_column('key_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('key_hint', existing_type=sa.String(length=8), nullable=False)
        batch_op.create_index(batch_op.f('ix_integrations_key_hash'), ['key_hash'], unique=True)
        batch_op.create_index(batch_op.f('ix_integrations_previous_key_hash'),
                              ['previous_key_hash'], unique=False)
        batch_op.drop_constraint(batch_op.f('uq_integrations_key'), type_='unique')
        batch_op.drop_column('key')


def downgrade() -> None:
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    ids = conn.execute(sa.select(_integrations.c.id)).scalars().all()
    if ids:
        conn.execute(
            _integrations.update().where(_integrations.c.id == sa.bindparam('row_id'))
            .values(key=sa.bindparam('new_key')),
            [{'row_id': row_id, 'new_key': secrets.token_hex(16)} for row_id in ids],
        )
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.alter_column('key', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_integrations_key'), ['key'])
        batch_op.drop_index(batch_op.f('ix_integrations_previous_key_hash'))
        batch_op.drop_index(batch_op.f('ix_integrations_key_hash'))
        batch_op.drop_column('previous_key_expires_at')
        batch_op.drop_column('previous_key_hash')
        batch_op.drop_column('key_hint')
        batch_op.drop_column('key_hash')
