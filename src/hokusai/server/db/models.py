"""ORM models. Every table is prefixed ``hk_`` so the platform can share a database with MLflow.

Security tables (issue 5): principals (users and wallets, with roles), API keys (only the SHA-256 of
the full key is stored), sign-in nonces (EIP-4361), wallet role grants and the audit log.
Resource tables (issue 6): datasets (files in the pipeline-data store, by content), models (a baseline
in the MLflow registry with its training data and benchmark), contributions, evaluation runs and
attestations.
Authorization (issue 10): MLflow permissions per experiment and registered model, model hashes and formats.
Acceptance events (issue 13): owners' webhooks, the outbox of events, one delivery per webhook and event.
Signer history (issue 19): every attestation signer and EIP-712 domain the platform published, and when.
Contributors' rights (issue 23): a contribution's withdrawal and the deletion of its raw bytes; a model's
retention override.
Times are stored in UTC and always come back timezone-aware, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with deterministic constraint names (stable migrations)."""

    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only clock the security tables use)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and read back timezone-aware (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Principal(Base):
    """Who acts: a user (a project, an operator) or a wallet address. ``roles`` caps its keys' scopes."""

    __tablename__ = "hk_principals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "user" | "wallet"
    name: Mapped[str | None] = mapped_column(String(100), unique=True)
    wallet_address: Mapped[str | None] = mapped_column(String(42), unique=True)
    roles: Mapped[str] = mapped_column(String(64))  # space-separated scopes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trusted_pickle: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # admin-set


class ApiKey(Base):
    """An API key: public id, SHA-256 hex of the full key string, scopes, lifetime, rotation link."""

    __tablename__ = "hk_api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("hk_principals.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(64))  # space-separated
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaced_by: Mapped[str | None] = mapped_column(String(32))
    parent_key_id: Mapped[str | None] = mapped_column(String(32))  # the key that minted it
    session_nonce: Mapped[str | None] = mapped_column(String(64), index=True)  # minted under a wallet sign-in


class SigninNonce(Base):
    """A SIWE nonce we issued; bound to one message on first use, burned by logout."""

    __tablename__ = "hk_signin_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # unused nonces die then
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    address: Mapped[str | None] = mapped_column(String(42))
    message_hash: Mapped[str | None] = mapped_column(String(64))
    message_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WalletGrant(Base):
    """A role granted to a wallet address in the database (beyond the implicit read + write)."""

    __tablename__ = "hk_wallet_grants"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_by: Mapped[str | None] = mapped_column(String(32))


class AuditEvent(Base):
    """One security event: key created/rotated/revoked, sign-in, logout, a failure and its reason."""

    __tablename__ = "hk_audit_events"
    __table_args__ = (Index("ix_hk_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    event: Mapped[str] = mapped_column(String(40), index=True)
    principal_id: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[str | None] = mapped_column(String(32))
    wallet_address: Mapped[str | None] = mapped_column(String(42))
    reason: Mapped[str | None] = mapped_column(String(40))
    resource: Mapped[str | None] = mapped_column(String(300))  # "<kind>:<id>" of the object changed
    client_ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Dataset(Base):
    """A principal's data file in the pipeline-data store, kept by content (``sha256/<hash><suffix>``); the
    same bytes uploaded by two principals are stored once and recorded twice (each owns its row)."""

    __tablename__ = "hk_datasets"
    __table_args__ = (UniqueConstraint("storage_key", "created_by"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(16))
    row_count: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[str]] = mapped_column(JSON)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)  # `$defs/data_manifest` of the attestation schema
    created_by: Mapped[str] = mapped_column(String(32), index=True)  # one row per uploader of the same bytes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Model(Base):
    """A baseline in the MLflow registry, with its training data and the benchmark it is judged on."""

    __tablename__ = "hk_models"
    # an on-chain id names one model per chain and verifying contract (services.mint.bind_onchain_id)
    __table_args__ = (UniqueConstraint("onchain_chain_id", "onchain_contract", "onchain_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    model_type: Mapped[str] = mapped_column(String(16))
    target_column: Mapped[str] = mapped_column(String(128))
    owner_id: Mapped[str] = mapped_column(ForeignKey("hk_principals.id"), index=True)
    baseline_version: Mapped[str] = mapped_column(String(16))
    source_uri: Mapped[str] = mapped_column(String(500))
    train_dataset_id: Mapped[str] = mapped_column(ForeignKey("hk_datasets.id"))
    benchmark_dataset_id: Mapped[str] = mapped_column(ForeignKey("hk_datasets.id"))
    data_schema: Mapped[dict[str, Any]] = mapped_column(JSON)  # contributions must match it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    model_hash: Mapped[str | None] = mapped_column(
        String(64)
    )  # SHA-256 of the estimator file at registration
    model_format: Mapped[str] = mapped_column(String(16), default="skops", server_default="pickle")
    benchmark_spec_id: Mapped[str | None] = mapped_column(String(32))  # its current benchmark spec
    onchain_id: Mapped[str | None] = mapped_column(String(78))  # uint256 in the DeltaVerifier, decimal
    weight_head: Mapped[str | None] = mapped_column(String(66))  # the contract's lineage head (bytes32)
    onchain_chain_id: Mapped[int | None] = mapped_column(Integer)  # where onchain_id was bound
    onchain_contract: Mapped[str | None] = mapped_column(String(42))  # the DeltaVerifier it was bound on
    onchain_wallet: Mapped[str | None] = mapped_column(String(42))  # the wallet that signed it (None: admin)
    onchain_bound_by: Mapped[str | None] = mapped_column(String(32))  # the principal that bound it
    accepts_contributions: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    experiment_id: Mapped[str | None] = mapped_column(String(64))  # the model's MLflow experiment
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # its head last moved (cooldown)
    retention_days: Mapped[int | None] = mapped_column(Integer)  # raw contributions kept (None: the setting)


class Contribution(Base):
    """A dataset contributed to a model by a wallet; the same bytes twice are the same contribution."""

    __tablename__ = "hk_contributions"
    __table_args__ = (UniqueConstraint("model_id", "dataset_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("hk_models.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("hk_datasets.id"))
    contributor_address: Mapped[str] = mapped_column(String(42), index=True)
    submitted_by: Mapped[str] = mapped_column(String(32))
    validation: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The signed ContributionTerms ({typed_data, signature, hash}) and their EIP-712 digest; None only for
    # contributions from before terms were required (migration 0011).
    terms: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    terms_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    # contributors' rights (issue 23): withdrawn by its wallet; its raw bytes deleted (why, and what stays)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data_deleted_reason: Mapped[str | None] = mapped_column(String(16))  # "withdrawn" | "retention"
    data_kept: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # what stayed after deletion, and why


class Run(Base):
    """One evaluation of contributions against a model: its state, progress, timings and outcome."""

    __tablename__ = "hk_runs"
    __table_args__ = (UniqueConstraint("submitted_by", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("hk_models.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued | running | succeeded | failed
    submitted_by: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    worker: Mapped[str | None] = mapped_column(String(300))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(40))
    delta_one_score: Mapped[float | None] = mapped_column(Float)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attestation_id: Mapped[str | None] = mapped_column(String(64))
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    registered_version: Mapped[str | None] = mapped_column(String(16))
    baseline_version: Mapped[str | None] = mapped_column(String(16))  # the model's head when claimed
    baseline_hash: Mapped[str | None] = mapped_column(String(64))  # that baseline's file: SHA-256 ...
    baseline_format: Mapped[str | None] = mapped_column(String(16))  # ... and format, pinned with it
    benchmark_spec_id: Mapped[str | None] = mapped_column(String(32))  # the spec it was evaluated under
    worker_token_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the worker's run token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RunContribution(Base):
    """A contribution evaluated in a run, in order, with the weight it earned (basis points)."""

    __tablename__ = "hk_run_contributions"

    run_id: Mapped[str] = mapped_column(ForeignKey("hk_runs.id", ondelete="CASCADE"), primary_key=True)
    contribution_id: Mapped[str] = mapped_column(ForeignKey("hk_contributions.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    weight_bps: Mapped[int | None] = mapped_column(Integer)


class Attestation(Base):
    """A signed attestation (id = the deterministic pipeline run id) and its evaluation report."""

    __tablename__ = "hk_attestations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("hk_runs.id"))
    hash_tree_root: Mapped[str] = mapped_column(String(64))
    signer: Mapped[str] = mapped_column(String(42))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MlflowPermission(Base):
    """A principal's permission on an MLflow experiment or registered model (MLflow's levels)."""

    __tablename__ = "hk_mlflow_permissions"
    __table_args__ = (UniqueConstraint("resource_type", "resource_id", "principal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(32))  # "experiment" | "registered_model"
    resource_id: Mapped[str] = mapped_column(String(300))  # experiment id, or registered model name
    principal_id: Mapped[str] = mapped_column(ForeignKey("hk_principals.id", ondelete="CASCADE"), index=True)
    permission: Mapped[str] = mapped_column(String(16))  # READ | EDIT | MANAGE | NO_PERMISSIONS
    granted_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BenchmarkSpecRow(Base):
    """One version of a model's benchmark spec (``hokusai.pipeline.benchmark_spec.BenchmarkSpec``).

    ``used`` is set by the first run under it: from then on it is immutable, and a change makes a new
    version (which becomes the model's current spec)."""

    __tablename__ = "hk_benchmark_specs"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("hk_models.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    benchmark_dataset_id: Mapped[str] = mapped_column(ForeignKey("hk_datasets.id"))
    used: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Webhook(Base):
    """An owner's endpoint for events: its URL, its signing secret (Fernet-encrypted, never plaintext at
    rest), the model it listens to (None: every model of its owner) and the event types."""

    __tablename__ = "hk_webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("hk_principals.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(Text)  # Fernet token of the signing secret; "" once deleted
    model_id: Mapped[str | None] = mapped_column(ForeignKey("hk_models.id"), index=True)
    events: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxEvent(Base):
    """An event written in the same transaction as what it reports (``payload``: the body receivers get)."""

    __tablename__ = "hk_outbox"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[str] = mapped_column(ForeignKey("hk_models.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One event for one webhook: its state, attempts, the next try, the lease of the API process sending
    it, and the log of its last attempts (``attempt_log``: ``{at, status, error, duration_ms}``)."""

    __tablename__ = "hk_webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_hk_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("hk_webhooks.id"), index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("hk_outbox.id"))
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # claimed by a sender until then
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SignerRecord(Base):
    """An attestation signer the platform published for one domain (chain id, verifying contract), from
    ``valid_from`` until ``valid_to`` (null: published now). Verification checks documents against it."""

    __tablename__ = "hk_signer_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signer: Mapped[str] = mapped_column(String(42))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    verifying_contract: Mapped[str | None] = mapped_column(String(42))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
