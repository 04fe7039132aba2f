"""Signed contribution terms: each contribution keeps the EIP-712 ContributionTerms its wallet signed
({typed_data, signature, hash}) and their hash (the EIP-712 digest, recorded in every run's report).
Contributions from before have none (NULL): they were accepted without terms.

Revision ID: 0011_terms
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_terms"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two nullable columns (written by hand; frozen: never import the models)."""
    with op.batch_alter_table("hk_contributions") as batch:
        batch.add_column(sa.Column("terms", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("terms_hash", sa.String(66), nullable=True))


def downgrade() -> None:
    """Drop the terms (the contributions stay)."""
    with op.batch_alter_table("hk_contributions") as batch:
        batch.drop_column("terms_hash")
        batch.drop_column("terms")
