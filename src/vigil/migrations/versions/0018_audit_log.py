"""audit: a log of configuration changes and sign-ins

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled by the change that needs it


def downgrade() -> None:
    pass
