"""The API's request and response bodies, in one place: the server declares them as ``response_model`` (so
the OpenAPI document has a schema for every answer) and the SDK returns the same classes.

Only pydantic, the standard library and the shared modules below it: importable without FastAPI,
SQLAlchemy or the server (the import-layer contract in pyproject.toml puts it with the shared modules).
Bodies whose format is defined elsewhere and may grow (the signed attestation document, the evaluation
report, a run's result) are models with their known fields typed and ``extra="allow"``. Request bodies
built on the pipeline's option models (``RunRequest``, ``ModelRegistration``, the benchmark spec changes)
stay beside the services that use them: this module cannot import the pipeline.

Timestamps that the API has always written with ``datetime.isoformat()`` (``+00:00``) keep doing so
(``Timestamp``); the models that always answered in pydantic's own format (``Z``) keep theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from hokusai.errors import InvalidInput
from hokusai.wallet import checksum_address

# --- the API's vocabulary -----------------------------------------------------------------------------------

READ, WRITE, ADMIN = "read", "write", "admin"
Scope = Literal["read", "write", "admin"]
GrantableRole = Literal["owner", "admin"]
MlflowResourceType = Literal["experiment", "registered_model"]
MlflowPermissionName = Literal["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"]
SCOPES: tuple[str, ...] = get_args(Scope)
GRANTABLE_ROLES: tuple[str, ...] = get_args(GrantableRole)
MLFLOW_RESOURCE_TYPES: tuple[str, ...] = get_args(MlflowResourceType)
ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
Address = Annotated[str, Field(pattern=ADDRESS_PATTERN, description="0x followed by 40 hex digits")]
"""An Ethereum address as the API takes it (a mixed-case one must carry its EIP-55 checksum)."""
HEX32_PATTERN = r"^0x[0-9a-fA-F]{64}$"
UINT256_PATTERN = r"^(0|[1-9][0-9]{0,76})$"  # a decimal below 10**77 (< 2**256), no leading zeros
DELTAONE_ACCEPTED = "deltaone.accepted"
EventType = Literal["deltaone.accepted"]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)


def parse_scopes(value: str | Iterable[str]) -> frozenset[str]:
    """Scopes from a space/comma separated string or an iterable; an unknown scope is a ``ValueError``."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    unknown = sorted(set(items) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return frozenset(items)


Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
"""A timestamp written as ``datetime.isoformat()`` (``2025-01-02T03:04:05.678901+00:00``)."""


class RequestBody(BaseModel):
    """A request body: no field its schema does not name (the API checks every JSON body against its
    operation's schema before this model reads it: ``server.body_schema``)."""

    model_config = ConfigDict(extra="forbid")


class Sparse(BaseModel):
    """A body whose optional keys are absent, not null, when they do not apply: fields never set are left
    out of the JSON (a ``null`` that was set stays). The JSON schema is the model's own."""

    @model_serializer(mode="wrap")
    def _present_only(self, handler: SerializerFunctionWrapHandler):
        # no return annotation: an annotated one would replace the model's schema in the OpenAPI document
        data = handler(self)
        for name in type(self).model_fields:
            if name not in self.model_fields_set:
                data.pop(name, None)
        return data


class Open(Sparse):
    """A body defined elsewhere that may carry more than its typed fields (they are kept)."""

    model_config = ConfigDict(extra="allow")


# --- health -------------------------------------------------------------------------------------------------


class Health(BaseModel):
    status: str
    version: str


class Probe(BaseModel):
    """One readiness probe: ``error`` says what failed, in words."""

    name: str
    ok: bool
    latency_ms: float
    error: str | None


class Readiness(BaseModel):
    status: str
    checks: dict[str, Probe]


# --- auth, keys, principals, permissions --------------------------------------------------------------------


class Me(BaseModel):
    """The calling principal."""

    id: str
    method: str
    role: str
    scopes: list[str]
    wallet_address: str | None
    key_id: str | None
    name: str | None


class Nonce(BaseModel):
    """Put ``nonce`` in the EIP-4361 message; use it within 10 minutes. ``domain`` and ``uri`` are what to
    sign for; ``chain_ids`` the chains the platform accepts."""

    nonce: str
    expires_at: datetime
    domain: str
    uri: str
    chain_ids: list[int]


def _checksummed(value: str) -> str:
    try:
        return checksum_address(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


class GrantCreate(RequestBody):
    """Give a wallet a role."""

    address: Annotated[Address, AfterValidator(_checksummed)]
    role: GrantableRole


class Grant(BaseModel):
    address: str
    role: str = Field(description=f"One of {', '.join(GRANTABLE_ROLES)}.")
    granted_at: datetime | None = None
    granted_by: str | None = None


class GrantList(BaseModel):
    grants: list[Grant]


class Logout(RequestBody):
    """``all``: end every sign-in of this wallet and revoke the API keys minted under them."""

    all: bool = False


class KeyCreate(RequestBody):
    """What a new key is for; the caller's own principal unless an admin names another."""

    model_config = ConfigDict(json_schema_extra={"not": {"required": ["principal_id", "principal_name"]}})

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    expires_at: AwareDatetime | None = None
    rate_limit_per_minute: int | None = Field(None, ge=1, le=1_000_000)
    principal_id: str | None = Field(None, description="Admin only: an existing principal.")
    principal_name: str | None = Field(
        None, min_length=1, max_length=100, description="Admin only: a user principal, created if new."
    )


class KeyInfo(BaseModel):
    """A key's metadata (never its secret or hash)."""

    id: str
    name: str
    principal_id: str
    scopes: list[str]
    status: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None
    rate_limit_per_minute: int | None


class NewKey(KeyInfo):
    """A key just made: ``key`` is its plaintext, shown this once."""

    key: str
    replaces: str | None = None


class KeyList(BaseModel):
    keys: list[KeyInfo]


class PrincipalInfo(BaseModel):
    id: str
    kind: str
    name: str | None
    wallet_address: str | None
    role: str
    trusted_pickle: bool
    created_at: datetime


class PrincipalList(BaseModel):
    principals: list[PrincipalInfo]


class PrincipalUpdate(RequestBody):
    """``trusted_pickle``: this owner's pickle models may be registered (they load only in run workers)."""

    trusted_pickle: bool


class AuditEntry(BaseModel):
    id: int
    at: datetime
    event: str
    principal_id: str | None
    key_id: str | None
    wallet_address: str | None
    resource: str | None
    reason: str | None
    client_ip: str | None
    request_id: str | None
    details: dict[str, Any] | None


class AuditPage(BaseModel):
    events: list[AuditEntry]


class PermissionGrant(RequestBody):
    """Give a principal (by id, or a wallet by address) a level on an experiment or registered model."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["principal_id"]}, {"required": ["address"]}]}
    )

    resource_type: MlflowResourceType
    resource_id: str = Field(
        min_length=1, max_length=300, description="Experiment id or registered model name."
    )
    # absent, never null: the schema's oneOf counts keys
    principal_id: str | SkipJsonSchema[None] = Field(None, min_length=1, max_length=32)
    address: Address | SkipJsonSchema[None] = Field(None, description="A wallet, instead of principal_id.")
    permission: MlflowPermissionName

    @model_validator(mode="after")
    def _one_principal(self) -> PermissionGrant:
        if (self.principal_id is None) == (self.address is None):
            raise ValueError("give principal_id or address, not both")
        return self


class Permission(BaseModel):
    resource_type: str
    resource_id: str
    principal_id: str
    permission: str
    granted_by: str | None
    created_at: datetime


class PermissionList(BaseModel):
    permissions: list[Permission]


# --- datasets and contributions -----------------------------------------------------------------------------


class Finding(BaseModel):
    """One rule a data file broke, in one column (or the whole file)."""

    file: str
    column: str | None
    rule: str
    count: int
    rows: list[int]
    severity: str
    message: str


class Validation(BaseModel):
    """The data checks' verdict on a file: the first findings and how many there were."""

    valid: bool
    findings: list[Finding]
    findings_total: int
    allow_pii: bool


class Dataset(BaseModel):
    """A data file kept by content: its SHA-256, size, format, columns and manifest."""

    id: str
    sha256: str
    size_bytes: int
    format: str
    row_count: int
    columns: list[str]
    manifest: dict[str, Any] = Field(description="The attestation schema's data_manifest of the file")
    created_at: Timestamp


class UploadedDataset(Dataset):
    """A dataset as its upload answers it: with the validation summary."""

    validation: Validation


class ContributionTerms(BaseModel):
    """The terms a contribution's wallet signed (EIP-712 ``ContributionTerms``): the licence and the rights
    it grants, the offer's expiry, and the signed message itself with its signature and hash (every run's
    report records the hash; ``hokusai attest verify --terms`` checks them against an attestation)."""

    license: str
    commercial_use: bool
    derivatives: bool
    attribution: bool
    deadline: int
    hash: str
    signature: str
    typed_data: dict[str, Any]


class DataKept(BaseModel):
    """What stays of a contribution whose raw bytes were deleted, and why (the contributor's proof)."""

    data_hash: str = Field(description="SHA-256 of the deleted bytes: the contribution's identity")
    manifest: bool = Field(description="The manifest (hashes, row and column counts; no rows) stays")
    attestations: list[str] = Field(description="Attestations of runs that evaluated it (proof of payment)")
    model_versions: list[str] = Field(description="`models:/<name>/<version>` trained on it by accepted runs")
    raw_bytes_kept: bool = Field(description="True only when the same bytes are still another record's")
    reasons: list[str] = Field(description="Why each of the above stays, in words")


class ContributionData(BaseModel):
    """Where a contribution's raw bytes are: ``stored``, or ``deleted`` (when, why, and what stays)."""

    state: Literal["stored", "deleted"]
    deleted_at: Timestamp | None = None
    reason: Literal["withdrawn", "retention"] | None = None
    kept: DataKept | None = None
    retention_days: int = Field(description="Days its raw bytes are kept after its last evaluation")
    delete_after: Timestamp | None = Field(
        None, description="When retention deletes them (unless evaluated again); null while a run is pending"
    )


class Contribution(BaseModel):
    """A wallet's data offered to a model, with its dataset, the validation it passed and its signed terms
    (``None`` only for a contribution from before terms were required)."""

    id: str
    model: str
    contributor_address: str
    data_hash: str
    dataset: Dataset
    validation: Validation
    created_at: Timestamp
    terms: ContributionTerms | None = None
    withdrawn_at: Timestamp | None = None
    data: ContributionData | None = None


class Withdrawal(BaseModel):
    """The answer to a withdrawal: the contribution as it is now, and what the withdrawal did."""

    contribution: Contribution
    cancelled_runs: list[str] = Field(description="Queued or running runs that would have used it")
    model_versions: list[str] = Field(description="`models:/<name>/<version>` trained on it (accepted runs)")
    kept: DataKept


class RetentionItem(BaseModel):
    """A contribution whose raw bytes are past retention: deleted by the sweep, or listed by a dry run."""

    contribution_id: str
    model: str
    contributor_address: str
    data_hash: str
    last_evaluated_at: Timestamp | None
    retention_days: int
    due_at: Timestamp
    deleted: bool


class RetentionSweep(BaseModel):
    """What a retention sweep deleted (or, in a dry run, would delete)."""

    dry_run: bool
    items: list[RetentionItem]


class RetentionRequest(RequestBody):
    """A retention sweep: a dry run lists what is due without deleting anything."""

    dry_run: bool = True


class ContributionList(BaseModel):
    contributions: list[Contribution]


# --- models, benchmarks, lineage ----------------------------------------------------------------------------


class ModelUpdate(RequestBody):
    """What a model's owner may change after registration."""

    # a signature or wallet (not null) goes with the onchain_id it binds
    model_config = ConfigDict(
        json_schema_extra={
            "dependentSchemas": {
                key: {"anyOf": [{"required": ["onchain_id"]}, {"properties": {key: {"type": "null"}}}]}
                for key in ("onchain_signature", "onchain_wallet")
            }
        }
    )

    accepts_contributions: bool | None = None
    retention_days: int | None = Field(
        None,
        ge=0,
        le=36500,
        description="Days raw contributions to this model are kept after their last evaluation (0: deleted "
        "at the next sweep); null goes back to the platform's HOKUSAI_RETENTION_DAYS",
    )
    onchain_id: str | None = Field(
        None,
        pattern=UINT256_PATTERN,
        description="The model's uint256 id in the DeltaVerifier (decimal; null unbinds): set by an admin "
        "or with onchain_signature; one model per chain and contract",
    )
    onchain_signature: str | None = Field(
        None,
        pattern=r"^(0x)?[0-9a-fA-F]{130}$",
        description="0x + 65-byte EIP-712 signature of the ModelBinding {modelId, platformModelId, "
        "platformModelName} on the platform's chain and DeltaVerifier, by onchain_wallet",
    )
    onchain_wallet: Address | None = Field(
        None, description="The wallet that owns the model on-chain and signed the binding"
    )
    weight_head: str | None = Field(
        None,
        pattern=HEX32_PATTERN,
        description="The contract's weight head after a mint (0x + 64 hex); an accepted run's candidate "
        "becomes the baseline",
    )


class SpecRef(BaseModel):
    """Which benchmark spec version is a model's current one."""

    id: str
    version: int
    hash: str
    task: str


class Model(BaseModel):
    """A registered baseline: its data, its file's hash and format, its current benchmark spec."""

    id: str
    name: str
    model_type: str
    target_column: str
    owner_id: str
    baseline_version: str
    baseline_uri: str
    source_uri: str
    train_dataset: Dataset
    benchmark_dataset: Dataset
    data_schema: dict[str, Any] = Field(description="The data schema contributions must match")
    model_hash: str | None
    model_format: str
    benchmark_spec: SpecRef | None
    accepts_contributions: bool
    retention_days: int | None = Field(
        None, description="Its raw-data retention override (null: the setting)"
    )
    experiment_id: str | None
    onchain_id: str | None
    onchain_chain_id: int | None = Field(None, description="The chain the on-chain id is bound on")
    onchain_contract: str | None = Field(None, description="The DeltaVerifier the on-chain id is bound on")
    onchain_wallet: str | None = Field(None, description="The wallet that signed the binding (None: admin)")
    weight_head: str | None
    created_at: Timestamp


class ModelList(BaseModel):
    models: list[Model]


class Benchmark(BaseModel):
    """One version of a model's benchmark spec (its evaluation contract)."""

    id: str
    model: str | None
    version: int
    current: bool
    used: bool
    hash: str
    benchmark_dataset_id: str
    spec: dict[str, Any] = Field(description="The BenchmarkSpec fields (task, seed, primary metric, rules…)")
    created_by: str
    created_at: Timestamp


class BenchmarkList(BaseModel):
    benchmarks: list[Benchmark]


class ContributionValue(BaseModel):
    """A contribution's value ± standard error (percentage points) and the near-copies dropped from it."""

    value_pp: float | None
    value_se_pp: float | None
    near_duplicates: int


class LineageContribution(ContributionValue):
    id: str
    contributor_address: str
    weight_bps: int | None
    data_hash: str | None


class LineageVersion(Sparse):
    """One registry version; the run fields (``run_id`` to ``contributions``) only for a version a run
    produced."""

    version: str
    uri: str
    role: str = Field(description="baseline, candidate or improvement")
    created_at: str
    tags: dict[str, str]
    run_id: str | None = None
    attestation_id: str | None = None
    outcome: str | None = None
    delta_one_score: float | None = None
    primary_metric: str | None = None
    gain: float | None = None
    unit: str | None = None
    delta_pp: float | None = None
    metric_deltas: dict[str, Any] | None = None
    counted: bool | None = None
    contributions: list[LineageContribution] | None = None


class Lineage(BaseModel):
    """Every version of a model, baseline first, and the counted improvement they add up to."""

    model: str
    baseline_version: str
    versions: list[LineageVersion]
    cumulative_improvement: float
    unit: str | None
    cumulative_improvement_pp: float | None


# --- runs ---------------------------------------------------------------------------------------------------


class RunProgress(Sparse):
    """How far a run got: the step, its place among the steps, and work done inside it."""

    step: str
    index: int | None = None
    total: int | None = None
    state: str | None = None
    done: int | None = None
    planned: int | None = None


class MetricDelta(Open):
    """One metric of both models: the gain (in ``unit``) and its interval."""

    baseline: float | None = None
    candidate: float | None = None
    gain: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    unit: str | None = None
    delta_pp: float | None = None
    ci_low_pp: float | None = None
    ci_high_pp: float | None = None


class ContributorOutcome(Open):
    """One contribution's outcome in a run: rows, near-copies, value ± standard error, weight."""

    wallet: str | None = None
    data_hash: str | None = None
    rows_submitted: int | None = None
    rows_used: int | None = None
    weight_bps: int | None = None
    weight: float | None = None
    value_pp: float | None = None
    value_se_pp: float | None = None
    near_duplicates: int | None = None


class RunResult(Open):
    """A finished run's result: the pipeline's summary (without the report and attestation, which are
    served at ``/attestations/{id}``)."""

    pipeline_run_id: str | None = None
    kind: str | None = None
    outcome: str | None = None
    accepted: bool | None = None
    delta_one_score: float | None = None
    primary_metric: str | None = None
    task: str | None = None
    gain: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    unit: str | None = None
    delta_pp: float | None = None
    ci_low_pp: float | None = None
    ci_high_pp: float | None = None
    metric_deltas: dict[str, MetricDelta] | None = None
    contributors: list[ContributorOutcome] | None = None
    attestation_id: str | None = None
    mlflow_run_id: str | None = None
    registered_model_version: str | None = None
    notes: list[str] | None = None


class RunError(BaseModel):
    code: str | None
    message: str | None


class Run(BaseModel):
    """A run's state, progress, timings and, when done, its result (or why it failed)."""

    id: str
    model: str | None
    state: str = Field(description="queued, running, succeeded or failed")
    progress: RunProgress | None
    options: dict[str, Any] = Field(description="The evaluation option overrides the run was submitted with")
    benchmark_spec_id: str | None
    contributions: list[str]
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_seconds: float | None
    outcome: str | None
    delta_one_score: float | None
    result: RunResult | None
    attestation_id: str | None
    mlflow_run_id: str | None
    registered_version: str | None
    error: RunError | None

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed")


class RunList(BaseModel):
    runs: list[Run]


class MintRequest(BaseModel):
    """An accepted run's signed EIP-712 mint request (``eth_signTypedData_v4`` JSON) and the calldata of
    ``submitMintRequest``."""

    types: dict[str, list[dict[str, str]]]
    primaryType: str
    domain: dict[str, Any]
    message: dict[str, Any]
    typedDataDigest: str
    signatures: list[str]
    signerAddresses: list[str]
    submitCalldata: str


# --- attestations -------------------------------------------------------------------------------------------


class AttestationDocument(Open):
    """A signed attestation document; its format is the attestation schema (zk_output_schema.json)."""

    schema_version: str | None = None
    metadata: dict[str, Any] | None = None
    evaluation_results: dict[str, Any] | None = None
    delta_computation: dict[str, Any] | None = None
    models: dict[str, Any] | None = None
    contributor_info: dict[str, Any] | None = None
    contributors: list[dict[str, Any]] | None = None
    attestation: dict[str, Any] | None = None


class EvaluationReport(Open):
    """The evaluation report behind an attestation: the outcome with its intervals, the metrics, each
    contribution's value, the weight commitments."""

    outcome: dict[str, Any] | None = None
    metric_family: str | None = None
    contributions: list[dict[str, Any]] | None = None
    weight_commitments: dict[str, Any] | None = None


class SignRequest(RequestBody):
    """A run worker's unsigned attestation document and its evaluation report."""

    document: dict[str, Any]
    report: dict[str, Any]


class Signed(BaseModel):
    attestation: AttestationDocument


class VerifyRequest(RequestBody):
    """A document to verify; its evaluation report is looked up here when it is not sent."""

    attestation: dict[str, Any]
    report: dict[str, Any] | None = Field(None, description="The companion evaluation_report.json")


class Check(BaseModel):
    name: str
    ok: bool
    reason: str


class Verdict(BaseModel):
    """Every check of a document and the platform signer it was checked against; valid when all passed."""

    valid: bool
    checks: list[Check]
    signer: str


class PublishedSignerInfo(BaseModel):
    """One signer published for one attestation domain, from ``valid_from`` until ``valid_to`` (null: now)."""

    signer: str
    chain_id: int
    verifying_contract: str | None
    valid_from: datetime | None
    valid_to: datetime | None


class Signers(BaseModel):
    """Who signs attestations and mint requests, how many must, for which chain and contract; ``history``:
    every signer and domain ever published (a document verifies against the one it was signed under)."""

    signers: list[str]
    threshold: int
    chain_id: int
    verifying_contract: str | None
    history: list[PublishedSignerInfo] = Field(default_factory=list)


class ImpactAttestation(ContributionValue):
    attestation_id: str | None
    run_id: str
    outcome: str | None
    delta_one_score: float | None
    weight: float
    counted: bool


class ModelImpact(BaseModel):
    runs: int
    accepted_runs: int
    weighted_delta_one: float
    attestations: list[ImpactAttestation]


class Impact(BaseModel):
    """What a wallet's contributions achieved in finished runs, per model and in total."""

    address: str
    contributions: int
    runs: int
    accepted_runs: int
    weighted_delta_one: float
    models: dict[str, ModelImpact]


# --- webhooks -----------------------------------------------------------------------------------------------


class WebhookCreate(RequestBody):
    """Where to send events: a public http(s) URL, one of your models (or all of them), the event types."""

    url: str = Field(min_length=1, max_length=2000, description="http:// or https:// URL of the receiver")
    model: str | None = Field(None, min_length=1, max_length=128, description="One of your models (else all)")
    events: list[EventType] = Field(
        default_factory=lambda: list(get_args(EventType)), min_length=1, max_length=10,
        description="Event types",
    )  # fmt: skip


class Webhook(BaseModel):
    """A webhook as its owner sees it; ``secret`` only in the answer that registers it."""

    id: str
    url: str
    model: str | None
    events: list[str]
    active: bool
    owner_id: str
    created_at: Timestamp
    secret: str | None = Field(
        None, exclude_if=lambda value: value is None, description="The signing secret, shown this once"
    )


class WebhookList(BaseModel):
    webhooks: list[Webhook]


class DeliveryAttempt(BaseModel):
    at: str
    status: int | None
    error: str | None
    duration_ms: int


class Delivery(BaseModel):
    """One event's delivery to a webhook: its state, attempts and the log of every attempt."""

    id: str
    event_id: str
    event_type: str | None
    run_id: str | None
    state: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: Timestamp | None
    last_status: int | None
    last_error: str | None
    delivered_at: Timestamp | None
    created_at: Timestamp
    log: list[DeliveryAttempt]


class DeliveryList(BaseModel):
    deliveries: list[Delivery]
