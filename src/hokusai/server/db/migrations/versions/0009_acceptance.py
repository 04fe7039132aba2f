"""One acceptance per baseline: the model's last acceptance time, and the baseline a run evaluates.

``hk_models.accepted_at`` is when the model's head last moved (its cooldown runs from it); a run's
acceptance is a compare-and-set on the model row (its baseline is still the head and the cooldown is
over), so two runs cannot both take one head. Backfilled from the latest accepted run of each model.
``hk_runs.baseline_hash`` and ``baseline_format`` pin the baseline's file (SHA-256 and format) with its
version when a worker claims the run, so a run keeps checking the file it started with even when the
head moves while it runs.

Revision ID: 0009
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns; a model's ``accepted_at`` is its latest accepted run's finish time."""
    with op.batch_alter_table("hk_models") as batch:
        batch.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("hk_runs") as batch:
        batch.add_column(sa.Column("baseline_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("baseline_format", sa.String(16), nullable=True))
    op.execute(
        "UPDATE hk_models SET accepted_at = (SELECT MAX(r.finished_at) FROM hk_runs r "
        "WHERE r.model_id = hk_models.id AND r.outcome = 'accepted')"
    )


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("hk_runs") as batch:
        batch.drop_column("baseline_format")
        batch.drop_column("baseline_hash")
    with op.batch_alter_table("hk_models") as batch:
        batch.drop_column("accepted_at")
