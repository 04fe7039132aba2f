"""Acceptance events and webhooks: owners' webhooks, the outbox, one delivery per webhook and event.

``hk_webhooks.secret`` holds a Fernet token (the signing secret encrypted with HOKUSAI_WEBHOOK_KEY), never
the secret. ``hk_outbox`` rows are written in the run's own transaction; ``hk_webhook_deliveries`` carry
the retry state, the sender's lease and a bounded JSON log of attempts. Nothing to backfill.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the three tables (written by hand; frozen: never import the models)."""
    op.create_table(
        "hk_webhooks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("model_id", sa.String(32), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["hk_principals.id"], name=op.f("fk_hk_webhooks_owner_id_hk_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["hk_models.id"], name=op.f("fk_hk_webhooks_model_id_hk_models"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_webhooks")),
    )  # fmt: skip
    op.create_index(op.f("ix_hk_webhooks_owner_id"), "hk_webhooks", ["owner_id"])
    op.create_index(op.f("ix_hk_webhooks_model_id"), "hk_webhooks", ["model_id"])
    op.create_table(
        "hk_outbox",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("model_id", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["hk_models.id"], name=op.f("fk_hk_outbox_model_id_hk_models"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_outbox")),
    )  # fmt: skip
    op.create_index(op.f("ix_hk_outbox_model_id"), "hk_outbox", ["model_id"])
    op.create_table(
        "hk_webhook_deliveries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("webhook_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("attempt_log", sa.JSON(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["hk_webhooks.id"], name=op.f("fk_hk_webhook_deliveries_webhook_id_hk_webhooks"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["hk_outbox.id"], name=op.f("fk_hk_webhook_deliveries_event_id_hk_outbox"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_webhook_deliveries")),
        sa.UniqueConstraint("webhook_id", "event_id", name=op.f("uq_hk_webhook_deliveries_webhook_id")),
    )  # fmt: skip
    op.create_index(op.f("ix_hk_webhook_deliveries_webhook_id"), "hk_webhook_deliveries", ["webhook_id"])
    op.create_index("ix_hk_webhook_deliveries_due", "hk_webhook_deliveries", ["state", "next_attempt_at"])


def downgrade() -> None:
    """Drop what ``upgrade`` created (events not yet delivered are lost with it)."""
    op.drop_table("hk_webhook_deliveries")
    op.drop_table("hk_outbox")
    op.drop_table("hk_webhooks")
