"""integrations: keys stored hashed, shown once

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled by the change that needs it


def downgrade() -> None:
    pass
