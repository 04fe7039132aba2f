"""Signer history: every attestation signer and EIP-712 domain (chain id, verifying contract) the platform
published, and when, so a document signed before a new verifying contract or a rotated signer keeps
verifying. Backfilled from the attestations already stored: each (signer, recorded domain) becomes one
row from its first to its last attestation; the running platform adds its current signers at start.

Revision ID: 0010
Revises: 0007
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _published(rows: Any) -> dict[tuple[str, int, str | None], list[datetime]]:
    """(signer, chain id, verifying contract) -> [first, last] signing time, from stored attestations."""
    spans: dict[tuple[str, int, str | None], list[datetime]] = {}
    for signer, report, created_at in rows:
        domain = (report or {}).get("attestation_domain") if isinstance(report, Mapping) else None
        if not isinstance(domain, Mapping) or type(domain.get("chainId")) is not int:
            continue  # the legacy domain (no chain id) was never one the verifier accepts
        key = (signer, domain["chainId"], domain.get("verifyingContract"))
        span = spans.setdefault(key, [created_at, created_at])
        span[0], span[1] = min(span[0], created_at), max(span[1], created_at)
    return spans


def upgrade() -> None:
    """Create ``hk_signer_history`` (written by hand; frozen: never import the models) and backfill it."""
    history = op.create_table(
        "hk_signer_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("signer", sa.String(42), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("verifying_contract", sa.String(42), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hk_signer_history")),
    )
    attestations = sa.table(
        "hk_attestations",
        sa.column("signer", sa.String()),
        sa.column("report", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = op.get_bind().execute(
        sa.select(attestations.c.signer, attestations.c.report, attestations.c.created_at)
    )
    spans = _published(rows)
    if spans:
        op.bulk_insert(
            history,
            [
                {"signer": signer, "chain_id": chain_id, "verifying_contract": contract,
                 "valid_from": first, "valid_to": last}
                for (signer, chain_id, contract), (first, last) in spans.items()
            ],
        )  # fmt: skip


def downgrade() -> None:
    """Drop the history (documents then verify against the current signers only)."""
    op.drop_table("hk_signer_history")
