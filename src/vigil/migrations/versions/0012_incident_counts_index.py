"""incident counts index covers severity

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 23:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The dashboard counts incidents per status and open incidents per severity in one
    # pass over this index, without reading table rows.
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_tenant_counts')
        batch_op.create_index('ix_incidents_tenant_counts_severity',
                              ['tenant_id', 'status', 'pending', 'candidate', 'severity'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_tenant_counts_severity')
        batch_op.create_index('ix_incidents_tenant_counts',
                              ['tenant_id', 'status', 'pending', 'candidate'], unique=False)
