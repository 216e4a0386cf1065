"""delivery rate index

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 22:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What the notifier's rate limit counts: messages sent to a channel and address in the
    # last minute.
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_rate', ['channel_id', 'address', 'sent_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_rate')
