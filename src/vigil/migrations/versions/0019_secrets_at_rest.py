"""secrets: channel secrets and signing keys encrypted at rest

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled by the change that needs it


def downgrade() -> None:
    pass
