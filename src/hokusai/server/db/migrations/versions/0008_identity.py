"""Bound on-chain identity: where a model's on-chain id was bound, by whom, and model-bound weight heads.

``onchain_id`` is now unique per (``onchain_chain_id``, ``onchain_contract``) and is set only by an admin or
with a signature of the wallet that binds it (``onchain_wallet``). Ids set before this revision were never
checked: they keep their value but no chain or contract, so no mint request is issued for them until an
admin or a signed binding sets them again. ``weight_head`` becomes the model-bound commitment
(``hokusai.attestation.commitment.model_bound``, frozen here as of this revision): a model's head names the
model, not only its file.

Revision ID: 0008
Revises: 0007
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TAG = b"hokusai.model-commitment.v1"


def _bound(model_id: str, head: str) -> str:
    root = bytes.fromhex(head.removeprefix("0x"))
    return "0x" + hashlib.sha256(_TAG + b"\x00" + model_id.encode() + b"\x00" + root).hexdigest()


def upgrade() -> None:
    """Add the binding columns and their unique constraint; bind the existing heads to their models."""
    with op.batch_alter_table("hk_models") as batch:
        batch.add_column(sa.Column("onchain_chain_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("onchain_contract", sa.String(42), nullable=True))
        batch.add_column(sa.Column("onchain_wallet", sa.String(42), nullable=True))
        batch.add_column(sa.Column("onchain_bound_by", sa.String(32), nullable=True))
        batch.create_unique_constraint(
            "uq_hk_models_onchain_chain_id", ["onchain_chain_id", "onchain_contract", "onchain_id"]
        )
    models = sa.table("hk_models", sa.column("id", sa.String), sa.column("weight_head", sa.String))
    bind = op.get_bind()
    for model_id, head in bind.execute(sa.select(models.c.id, models.c.weight_head)).all():
        if head:
            bind.execute(
                models.update().where(models.c.id == model_id).values(weight_head=_bound(model_id, head))
            )


def downgrade() -> None:
    """Drop what ``upgrade`` added (the bound heads stay: the artifact commitment cannot be recovered)."""
    with op.batch_alter_table("hk_models") as batch:
        batch.drop_constraint("uq_hk_models_onchain_chain_id", type_="unique")
        batch.drop_column("onchain_bound_by")
        batch.drop_column("onchain_wallet")
        batch.drop_column("onchain_contract")
        batch.drop_column("onchain_chain_id")
