"""audit: a log of configuration changes and sign-ins

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from vigil.db import UTCDateTime

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
    op.create_table(
        'audit_entries',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('occurred_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('target', sa.String(length=400), nullable=False),
        sa.Column('target_type', sa.String(length=64), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('before', json, nullable=True),
        sa.Column('after', json, nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name='fk_audit_entries_tenant_id_tenants'),
        sa.PrimaryKeyConstraint('id', name='pk_audit_entries'),
    )
    op.create_index('ix_audit_entries_tenant_time', 'audit_entries',
                    ['tenant_id', 'occurred_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_entries_tenant_time', table_name='audit_entries')
    op.drop_table('audit_entries')
