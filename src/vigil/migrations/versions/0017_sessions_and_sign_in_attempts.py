"""sessions: server-side sessions that can be revoked, and sign-in attempts for rate limiting

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.db import UTCDateTime

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('csrf', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('user_agent', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_user_sessions_tenant_id_tenants')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE',
                                name=op.f('fk_user_sessions_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    )
    op.create_index('uq_user_sessions_token_hash', 'user_sessions', ['token_hash'],
                    unique=True)
    op.create_index('ix_user_sessions_user', 'user_sessions', ['user_id', 'created_at'],
                    unique=False)
    op.create_table(
        'sign_in_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('locked_until', UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_attempts')),
    )
    op.create_index('uq_sign_in_attempts_scope_subject', 'sign_in_attempts',
                    ['scope', 'subject'], unique=True)
    op.create_index('ix_sign_in_attempts_last_failed', 'sign_in_attempts',
                    ['last_failed_at'], unique=False)
    op.create_table(
        'setup_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_setup_tokens')),
    )


def downgrade() -> None:
    op.drop_table('setup_tokens')
    op.drop_index('ix_sign_in_attempts_last_failed', table_name='sign_in_attempts')
    op.drop_index('uq_sign_in_attempts_scope_subject', table_name='sign_in_attempts')
    op.drop_table('sign_in_attempts')
    op.drop_index('ix_user_sessions_user', table_name='user_sessions')
    op.drop_index('uq_user_sessions_token_hash', table_name='user_sessions')
    op.drop_table('user_sessions')
