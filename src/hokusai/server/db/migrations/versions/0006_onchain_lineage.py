"""On-chain lineage: a model's on-chain id and weight head, a run's compute time.

``onchain_id`` is the model's id in the DeltaVerifier contract (a uint256, as decimal text; its owner sets
it). ``weight_head`` is the model's current weight commitment as the contract knows it: the registered
baseline's commitment (genesis) until its owner records a mint. Existing models get no head: their
owner sets it (from the chain) before asking for a mint request.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns (nullable: nothing to backfill that the platform could know)."""
    with op.batch_alter_table("hk_models") as batch:
        batch.add_column(sa.Column("onchain_id", sa.String(78), nullable=True))
        batch.add_column(sa.Column("weight_head", sa.String(66), nullable=True))


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("hk_models") as batch:
        batch.drop_column("weight_head")
        batch.drop_column("onchain_id")
