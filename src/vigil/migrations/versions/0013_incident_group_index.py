"""incident group index without last_seen_at

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 03:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Ingest finds a group's incidents by (tenant, group key) alone. With last_seen_at in
    # the key, every alert joining an incident moved its entry in this index as well.
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_group')
        batch_op.create_index('ix_incidents_group', ['tenant_id', 'group_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_group')
        batch_op.create_index('ix_incidents_group', ['tenant_id', 'group_key', 'last_seen_at'],
                              unique=False)
