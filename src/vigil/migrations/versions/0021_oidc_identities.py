"""oidc: users linked to an identity provider's subject

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled by the change that needs it


def downgrade() -> None:
    pass
