"""Benchmark specs: one row per version of a model's evaluation contract; models and runs point at one.

Existing models get version 1 derived from their registration: the benchmark pinned by its hash, the
task (regression for regressors; multiclass when the training data's manifest counts more than two
label values, else binary), the default rules, the model's evaluation seed, and the stored data schema as
the contribution schema (extra columns refused, as the pipeline always did). Earlier runs keep no spec.

Revision ID: 0005
Revises: 0004
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _derived(model: sa.Row, benchmark_sha256: str | None, label_values: int | None) -> dict:
    schema = {**model.data_schema, "label": model.target_column, "allow_extra_columns": False}
    if model.model_type == "regression":
        task, primary = "regression", "rmse"
    elif label_values is not None and label_values > 2:
        task, primary = "multiclass", "accuracy"
    else:
        task, primary = "binary", "auroc"
    return {
        "primary_metric": primary,
        "metric_weights": None,
        "guardrails": [],
        "seed": model.evaluation_seed,
        "sample": None,
        "threshold": 1.0,
        "min_benchmark_rows": 200,
        "valuation_budget": None,
        "accuracy_tolerance": None,
        "task": task,
        "target_column": model.target_column,
        "benchmark_sha256": benchmark_sha256,
        "cooldown_seconds": 86400,
        "cost_cap_usd": None,
        "contribution_schema": schema,
    }  # written here, frozen: the migration never imports the code's models


def upgrade() -> None:
    """Create the table, point models and runs at a spec, derive version 1 for every model."""
    op.create_table(
        "hk_benchmark_specs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("model_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("benchmark_dataset_id", sa.String(32), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["hk_models.id"], name=op.f("fk_hk_benchmark_specs_model_id_hk_models"),
        ),
        sa.ForeignKeyConstraint(
            ["benchmark_dataset_id"], ["hk_datasets.id"],
            name=op.f("fk_hk_benchmark_specs_benchmark_dataset_id_hk_datasets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_benchmark_specs")),
        sa.UniqueConstraint("model_id", "version", name=op.f("uq_hk_benchmark_specs_model_id")),
    )  # fmt: skip
    op.create_index(op.f("ix_hk_benchmark_specs_model_id"), "hk_benchmark_specs", ["model_id"])
    with op.batch_alter_table("hk_models") as batch:
        batch.add_column(sa.Column("benchmark_spec_id", sa.String(32), nullable=True))
    with op.batch_alter_table("hk_runs") as batch:
        batch.add_column(sa.Column("benchmark_spec_id", sa.String(32), nullable=True))
    bind = op.get_bind()
    models = sa.table(
        "hk_models", sa.column("id"), sa.column("owner_id"), sa.column("model_type"),
        sa.column("target_column"), sa.column("train_dataset_id"), sa.column("benchmark_dataset_id"),
        sa.column("data_schema", sa.JSON()), sa.column("evaluation_seed"), sa.column("benchmark_spec_id"),
    )  # fmt: skip
    datasets = sa.table("hk_datasets", sa.column("id"), sa.column("sha256"), sa.column("manifest", sa.JSON()))
    specs = sa.table(
        "hk_benchmark_specs", sa.column("id"), sa.column("model_id"), sa.column("version"),
        sa.column("spec", sa.JSON()), sa.column("benchmark_dataset_id"),
        sa.column("used"), sa.column("created_by"), sa.column("created_at"),
    )  # fmt: skip
    for model in bind.execute(sa.select(models)).all():
        sha = bind.execute(
            sa.select(datasets.c.sha256).where(datasets.c.id == model.benchmark_dataset_id)
        ).scalar()
        manifest = bind.execute(
            sa.select(datasets.c.manifest).where(datasets.c.id == model.train_dataset_id)
        ).scalar()
        spec = _derived(model, sha, (manifest or {}).get("unique_counts", {}).get(model.target_column))
        spec_id = uuid.uuid4().hex
        bind.execute(specs.insert().values(
            id=spec_id, model_id=model.id, version=1, spec=spec,
            benchmark_dataset_id=model.benchmark_dataset_id, used=False, created_by=model.owner_id,
            created_at=datetime.now(UTC),
        ))  # fmt: skip
        bind.execute(models.update().where(models.c.id == model.id).values(benchmark_spec_id=spec_id))
    with op.batch_alter_table("hk_models") as batch:
        batch.drop_column("evaluation_seed")  # the seed is the spec's now


def downgrade() -> None:
    """Drop what ``upgrade`` added (the seed is back at its default, 42)."""
    with op.batch_alter_table("hk_models") as batch:
        batch.add_column(sa.Column("evaluation_seed", sa.BigInteger(), nullable=False, server_default="42"))
    with op.batch_alter_table("hk_runs") as batch:
        batch.drop_column("benchmark_spec_id")
    with op.batch_alter_table("hk_models") as batch:
        batch.drop_column("benchmark_spec_id")
    op.drop_table("hk_benchmark_specs")
