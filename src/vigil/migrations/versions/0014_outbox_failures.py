"""outbox failures: events a consumer could not handle, retried then parked

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 17:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.db import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_failures',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('consumer', sa.String(length=64), nullable=False),
        sa.Column('event_id', sa.BigInteger(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('topic', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('first_failed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_failed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('parked_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('replayed_at', UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('uq_outbox_failures_consumer_event', 'outbox_failures',
                    ['consumer', 'event_id'], unique=True)
    op.create_index('ix_outbox_failures_due', 'outbox_failures',
                    ['consumer', 'parked_at', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_failures_due', table_name='outbox_failures')
    op.drop_index('uq_outbox_failures_consumer_event', table_name='outbox_failures')
    op.drop_table('outbox_failures')
