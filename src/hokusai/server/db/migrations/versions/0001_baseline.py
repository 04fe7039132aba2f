"""Baseline: an empty schema; later revisions add the platform's tables.

Revision ID: 0001
Revises:
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to create: the baseline marks the database as managed by Hokusai."""


def downgrade() -> None:
    """Nothing to drop."""
