"""Security tables: principals, API keys, sign-in nonces, wallet role grants, audit events.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the five tables and their indexes (written by hand; frozen: never import the models)."""
    op.create_table(
        "hk_principals",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("wallet_address", sa.String(42), nullable=True),
        sa.Column("roles", sa.String(64), nullable=False),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_principals")),
        sa.UniqueConstraint("name", name=op.f("uq_hk_principals_name")),
        sa.UniqueConstraint("wallet_address", name=op.f("uq_hk_principals_wallet_address")),
    )
    op.create_table(
        "hk_api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("principal_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        _time("created_at", nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        _time("expires_at"),
        _time("revoked_at"),
        sa.Column("replaced_by", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["hk_principals.id"],
            name=op.f("fk_hk_api_keys_principal_id_hk_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_api_keys")),
    )
    op.create_index(op.f("ix_hk_api_keys_principal_id"), "hk_api_keys", ["principal_id"])
    op.create_table(
        "hk_signin_nonces",
        sa.Column("nonce", sa.String(64), nullable=False),
        _time("issued_at", nullable=False),
        _time("expires_at", nullable=False),
        _time("used_at"),
        sa.Column("address", sa.String(42), nullable=True),
        sa.Column("message_hash", sa.String(64), nullable=True),
        _time("message_expires_at"),
        _time("revoked_at"),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_hk_signin_nonces")),
    )
    op.create_index(op.f("ix_hk_signin_nonces_expires_at"), "hk_signin_nonces", ["expires_at"])
    op.create_table(
        "hk_wallet_grants",
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _time("granted_at", nullable=False),
        sa.Column("granted_by", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("address", "role", name=op.f("pk_hk_wallet_grants")),
    )
    op.create_table(
        "hk_audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _time("at", nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("principal_id", sa.String(32), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("wallet_address", sa.String(42), nullable=True),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_audit_events")),
    )
    op.create_index("ix_hk_audit_events_at", "hk_audit_events", ["at"])
    op.create_index(op.f("ix_hk_audit_events_event"), "hk_audit_events", ["event"])


def downgrade() -> None:
    """Drop the five tables (their indexes go with them)."""
    for table in ("hk_audit_events", "hk_wallet_grants", "hk_signin_nonces", "hk_api_keys", "hk_principals"):
        op.drop_table(table)
