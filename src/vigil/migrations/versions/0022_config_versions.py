"""config versions: the "configuration changed" signal every node's caches follow

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vigil.db

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per topic of configuration (correlation rules, silences, ...): its version is
    # raised in the transaction that changes it, and every node's caches follow it
    # (vigil.configstate). A topic's row is made by its first change.
    op.create_table(
        'config_versions',
        sa.Column('topic', sa.String(length=64), nullable=False),
        sa.Column('version', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('changed_at', vigil.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('topic', name=op.f('pk_config_versions')),
    )


def downgrade() -> None:
    op.drop_table('config_versions')
