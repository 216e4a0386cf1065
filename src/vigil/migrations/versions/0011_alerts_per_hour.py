"""alerts per hour

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    hour_type = sa.String(length=26) if sqlite else sa.DateTime(timezone=True)
    op.create_table('alerts_per_hour',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('hour', hour_type, nullable=False),
    sa.Column('alerts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'hour')
    )
    # The alerts already stored, counted by the hour they were first received in.
    if sqlite:  # UTC text "YYYY-MM-DD HH:MM:SS.ffffff"
        op.execute("INSERT INTO alerts_per_hour (tenant_id, hour, alerts) "
                   "SELECT tenant_id, substr(first_received_at, 1, 13) || ':00:00.000000', "
                   "count(*) FROM alerts GROUP BY 1, 2")
    else:
        op.execute("INSERT INTO alerts_per_hour (tenant_id, hour, alerts) "
                   "SELECT tenant_id, date_trunc('hour', first_received_at), count(*) "
                   "FROM alerts GROUP BY 1, 2")


def downgrade() -> None:
    op.drop_table('alerts_per_hour')
