"""Contributors' rights over their data: withdrawal, deletion of the raw bytes, retention.

``hk_contributions.withdrawn_at`` is when its wallet withdrew it; ``data_deleted_at`` and
``data_deleted_reason`` (``withdrawn`` | ``retention``) say when and why its raw bytes were deleted, and
``data_kept`` what stays (hashes, manifest, attestations, the model versions trained on it) and why.
``hk_models.retention_days`` overrides ``HOKUSAI_RETENTION_DAYS`` for one model (null: the setting).

Revision ID: 0012_rights
Revises: 0011_terms
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_rights"
down_revision = "0011_terms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns (every existing contribution keeps its data; no model overrides)."""
    with op.batch_alter_table("hk_contributions") as batch:
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("data_deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("data_deleted_reason", sa.String(16), nullable=True))
        batch.add_column(sa.Column("data_kept", sa.JSON(), nullable=True))
    with op.batch_alter_table("hk_models") as batch:
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("hk_models") as batch:
        batch.drop_column("retention_days")
    with op.batch_alter_table("hk_contributions") as batch:
        batch.drop_column("data_kept")
        batch.drop_column("data_deleted_reason")
        batch.drop_column("data_deleted_at")
        batch.drop_column("withdrawn_at")
