"""Authorization: object ownership, MLflow permissions, worker tokens, key lineage, safe model files.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns and the permission table (written by hand; frozen: never import the models)."""
    with op.batch_alter_table("hk_datasets") as batch:  # one row per uploader: ownership, quotas
        batch.drop_constraint("uq_hk_datasets_storage_key", type_="unique")
        batch.create_unique_constraint("uq_hk_datasets_storage_key", ["storage_key", "created_by"])
    op.create_index(op.f("ix_hk_datasets_created_by"), "hk_datasets", ["created_by"])
    with op.batch_alter_table("hk_principals") as batch:
        batch.add_column(sa.Column("trusted_pickle", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("hk_api_keys") as batch:
        batch.add_column(sa.Column("parent_key_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("session_nonce", sa.String(64), nullable=True))
    op.create_index(op.f("ix_hk_api_keys_session_nonce"), "hk_api_keys", ["session_nonce"])
    with op.batch_alter_table("hk_models") as batch:
        batch.add_column(sa.Column("model_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("model_format", sa.String(16), nullable=False, server_default="pickle"))
        batch.add_column(sa.Column("evaluation_seed", sa.BigInteger(), nullable=False, server_default="42"))
        batch.add_column(
            sa.Column("accepts_contributions", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("experiment_id", sa.String(64), nullable=True))
    with op.batch_alter_table("hk_runs") as batch:
        batch.add_column(sa.Column("baseline_version", sa.String(16), nullable=True))
        batch.add_column(sa.Column("worker_token_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("hk_audit_events") as batch:
        batch.add_column(sa.Column("resource", sa.String(300), nullable=True))
    op.create_table(
        "hk_mlflow_permissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(300), nullable=False),
        sa.Column("principal_id", sa.String(32), nullable=False),
        sa.Column("permission", sa.String(16), nullable=False),
        sa.Column("granted_by", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["hk_principals.id"],
            name=op.f("fk_hk_mlflow_permissions_principal_id_hk_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_mlflow_permissions")),
        sa.UniqueConstraint(
            "resource_type",
            "resource_id",
            "principal_id",
            name=op.f("uq_hk_mlflow_permissions_resource_type"),
        ),
    )
    op.create_index(op.f("ix_hk_mlflow_permissions_principal_id"), "hk_mlflow_permissions", ["principal_id"])
    # Every registered model of an existing platform model is managed by that model's owner.
    op.execute(
        "INSERT INTO hk_mlflow_permissions"
        " (resource_type, resource_id, principal_id, permission, created_at) "
        "SELECT 'registered_model', name, owner_id, 'MANAGE', created_at FROM hk_models"
    )


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    op.drop_table("hk_mlflow_permissions")
    with op.batch_alter_table("hk_audit_events") as batch:
        batch.drop_column("resource")
    with op.batch_alter_table("hk_runs") as batch:
        batch.drop_column("worker_token_hash")
        batch.drop_column("baseline_version")
    with op.batch_alter_table("hk_models") as batch:
        for column in (
            "experiment_id",
            "accepts_contributions",
            "evaluation_seed",
            "model_format",
            "model_hash",
        ):
            batch.drop_column(column)
    op.drop_index(op.f("ix_hk_api_keys_session_nonce"), "hk_api_keys")
    with op.batch_alter_table("hk_api_keys") as batch:
        batch.drop_column("session_nonce")
        batch.drop_column("parent_key_id")
    with op.batch_alter_table("hk_principals") as batch:
        batch.drop_column("trusted_pickle")
    op.drop_index(op.f("ix_hk_datasets_created_by"), "hk_datasets")
    with op.batch_alter_table("hk_datasets") as batch:
        batch.drop_constraint("uq_hk_datasets_storage_key", type_="unique")
        batch.create_unique_constraint("uq_hk_datasets_storage_key", ["storage_key"])
