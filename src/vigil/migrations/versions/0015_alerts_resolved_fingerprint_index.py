"""alerts: index of resolved alerts by fingerprint and start

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Ingest asks, for an Alertmanager or Grafana trigger that finds no open alert, for the
    # latest resolved alert of its fingerprint: a re-send of that one's firing notification
    # (same startsAt) is stale and opens nothing.
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_resolved_fingerprint',
                              ['tenant_id', 'fingerprint', 'starts_at', 'id'], unique=False,
                              sqlite_where=sa.text("status = 'resolved'"),
                              postgresql_where=sa.text("status = 'resolved'"))


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_resolved_fingerprint',
                            sqlite_where=sa.text("status = 'resolved'"),
                            postgresql_where=sa.text("status = 'resolved'"))
