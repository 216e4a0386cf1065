"""oidc: users linked to an identity provider's subject

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A user signs in through the provider as (issuer, subject): linked at the first sign-in
    # (matched by verified email), then found by it even if the email changes. Unique per
    # tenant; rows without a link (NULLs) never collide on either database.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('oidc_issuer', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('oidc_subject', sa.String(length=255), nullable=True))
        batch_op.create_index('uq_users_oidc_identity',
                              ['tenant_id', 'oidc_issuer', 'oidc_subject'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('uq_users_oidc_identity')
        batch_op.drop_column('oidc_subject')
        batch_op.drop_column('oidc_issuer')
