"""Resource tables: datasets, models, contributions, runs, run contributions, attestations.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(name: str = "id", nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(32), nullable=nullable)


def upgrade() -> None:
    """Create the six tables (written by hand; frozen: never import the models)."""
    op.create_table(
        "hk_datasets",
        _id(),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_datasets")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_hk_datasets_storage_key")),
    )
    op.create_index(op.f("ix_hk_datasets_sha256"), "hk_datasets", ["sha256"])
    op.create_table(
        "hk_models",
        _id(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("model_type", sa.String(16), nullable=False),
        sa.Column("target_column", sa.String(128), nullable=False),
        _id("owner_id"),
        sa.Column("baseline_version", sa.String(16), nullable=False),
        sa.Column("source_uri", sa.String(500), nullable=False),
        _id("train_dataset_id"),
        _id("benchmark_dataset_id"),
        sa.Column("data_schema", sa.JSON(), nullable=False),
        _time("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["hk_principals.id"], name=op.f("fk_hk_models_owner_id_hk_principals")
        ),
        sa.ForeignKeyConstraint(
            ["train_dataset_id"], ["hk_datasets.id"], name=op.f("fk_hk_models_train_dataset_id_hk_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["benchmark_dataset_id"],
            ["hk_datasets.id"],
            name=op.f("fk_hk_models_benchmark_dataset_id_hk_datasets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_models")),
        sa.UniqueConstraint("name", name=op.f("uq_hk_models_name")),
    )
    op.create_index(op.f("ix_hk_models_owner_id"), "hk_models", ["owner_id"])
    op.create_table(
        "hk_contributions",
        _id(),
        _id("model_id"),
        _id("dataset_id"),
        sa.Column("contributor_address", sa.String(42), nullable=False),
        sa.Column("submitted_by", sa.String(32), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=False),
        _time("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["hk_models.id"], name=op.f("fk_hk_contributions_model_id_hk_models")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["hk_datasets.id"], name=op.f("fk_hk_contributions_dataset_id_hk_datasets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_contributions")),
        sa.UniqueConstraint("model_id", "dataset_id", name=op.f("uq_hk_contributions_model_id")),
    )
    op.create_index(op.f("ix_hk_contributions_model_id"), "hk_contributions", ["model_id"])
    op.create_index(
        op.f("ix_hk_contributions_contributor_address"), "hk_contributions", ["contributor_address"]
    )
    op.create_table(
        "hk_runs",
        _id(),
        _id("model_id"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("submitted_by", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.Column("worker", sa.String(300), nullable=True),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("delta_one_score", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("attestation_id", sa.String(64), nullable=True),
        sa.Column("mlflow_run_id", sa.String(64), nullable=True),
        sa.Column("registered_version", sa.String(16), nullable=True),
        _time("created_at", nullable=False),
        _time("started_at"),
        _time("finished_at"),
        sa.ForeignKeyConstraint(["model_id"], ["hk_models.id"], name=op.f("fk_hk_runs_model_id_hk_models")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_runs")),
        sa.UniqueConstraint("submitted_by", "idempotency_key", name=op.f("uq_hk_runs_submitted_by")),
    )
    op.create_index(op.f("ix_hk_runs_model_id"), "hk_runs", ["model_id"])
    op.create_index(op.f("ix_hk_runs_state"), "hk_runs", ["state"])
    op.create_table(
        "hk_run_contributions",
        _id("run_id"),
        _id("contribution_id"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("weight_bps", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["hk_runs.id"],
            name=op.f("fk_hk_run_contributions_run_id_hk_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contribution_id"],
            ["hk_contributions.id"],
            name=op.f("fk_hk_run_contributions_contribution_id_hk_contributions"),
        ),
        sa.PrimaryKeyConstraint("run_id", "contribution_id", name=op.f("pk_hk_run_contributions")),
    )
    op.create_table(
        "hk_attestations",
        sa.Column("id", sa.String(64), nullable=False),
        _id("run_id"),
        sa.Column("hash_tree_root", sa.String(64), nullable=False),
        sa.Column("signer", sa.String(42), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        _time("created_at", nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["hk_runs.id"], name=op.f("fk_hk_attestations_run_id_hk_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_attestations")),
    )


def downgrade() -> None:
    """Drop the six tables, dependants first."""
    for table in ("hk_attestations", "hk_run_contributions", "hk_runs", "hk_contributions", "hk_models"):
        op.drop_table(table)
    op.drop_table("hk_datasets")
