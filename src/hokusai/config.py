"""One settings object for the whole platform (env prefix ``HOKUSAI_``, optional ``.env``).

Every field is documented in ``docs/configuration.md``; a test keeps the two in step.
Defaults are embedded: with no environment at all, everything lives under ``./.hokusai/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hokusai.errors import ConfigError, HokusaiError

ENV_PREFIX = "HOKUSAI_"
DEFAULT_VALUATION_BUDGET = 160
"""Retrains per run's valuation: the smallest that meets the payout-accuracy goal against exact
Shapley at 8-12 contributions (docs/benchmarks.md); 7 or fewer contributions are exact within it."""
Environment = Literal["development", "staging", "production", "test"]

_LIMITS_SCHEMES = (
    "memory://",
    "redis://",
    "rediss://",
    "redis+unix://",
    "redis+sentinel://",
    "redis+cluster://",
)
_SQL_SCHEMES = ("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")


def normalize_sql_url(url: str) -> str:
    """Map ``postgres://`` / ``postgresql://`` to the installed driver (psycopg 3); keep SQLite as is."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _check_sql_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(_SQL_SCHEMES):
        raise ValueError("must be a sqlite:///PATH or postgresql://USER@HOST:PORT/DB URL")
    return normalize_sql_url(value)


class Settings(BaseSettings):
    """Platform settings; read from ``HOKUSAI_*`` environment variables and ``.env``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", validate_default=True
    )

    environment: Environment = Field("development", description="Deployment environment name.")
    data_dir: Path = Field(
        Path(".hokusai"), description="Folder for local state (databases, artifacts, keys)."
    )
    database_url: str | None = Field(
        None, description="Platform database (SQLAlchemy URL). Default: SQLite file in the data dir."
    )
    mlflow_backend_store_uri: str | None = Field(
        None, description="MLflow backend store. Default: a separate SQLite file in the data dir."
    )
    artifact_root: str | None = Field(
        None, description="Where MLflow stores artifacts: a local folder or s3://bucket/prefix."
    )
    s3_endpoint_url: str | None = Field(
        None, description="Endpoint of an S3-compatible store (MinIO, moto); empty for AWS S3."
    )
    api_host: str = Field("127.0.0.1", description="Interface the API binds to.")
    api_port: int = Field(8001, ge=1, le=65535, description="Port the API listens on.")
    mlflow_host: str = Field("127.0.0.1", description="Interface the internal MLflow server binds to.")
    mlflow_port: int = Field(5000, ge=1, le=65535, description="Port of the internal MLflow server.")
    mlflow_url: str | None = Field(
        None, description="URL the API uses to reach MLflow. Default: http://MLFLOW_HOST:MLFLOW_PORT."
    )
    mlflow_allowed_hosts: str | None = Field(
        None, description="Host headers MLflow accepts (comma list). Default: loopback and the MLflow host."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    ready_timeout_seconds: float = Field(
        2.0, gt=0, le=30, description="Timeout of each /ready probe (database, MLflow)."
    )
    startup_timeout_seconds: float = Field(
        120.0, gt=0, description="How long `hokusai up` waits for MLflow's /health and for its API to serve."
    )
    mlflow_max_restarts_per_minute: int = Field(
        5,
        ge=0,
        le=100,
        description="Restarts of a dead MLflow child `hokusai up` makes in any minute (0: none).",
    )
    mlflow_restart_backoff_seconds: float = Field(
        1.0, ge=0, le=300, description="Wait before restarting a dead MLflow; doubles per recent restart."
    )
    api_max_restarts_per_minute: int = Field(
        5,
        ge=0,
        le=100,
        description="Restarts of a dead API child `hokusai up` makes in any minute (0: none).",
    )
    api_restart_backoff_seconds: float = Field(
        1.0, ge=0, le=300, description="Wait before restarting a dead API child; doubles per recent restart."
    )
    public_domain: str | None = Field(
        None, description="Domain a SIWE sign-in message must name. Default: API_HOST:API_PORT."
    )
    admin_addresses: str = Field(
        "", description="Wallet addresses (comma list, EIP-55) that get the admin scope."
    )
    rate_limit_per_minute: int = Field(
        100, ge=1, le=1_000_000, description="Requests per minute per key, per wallet and per client IP."
    )
    rate_limit_storage_url: str = Field(
        "memory://", description="Where rate-limit counters live: memory:// or a redis:// URL (shared)."
    )
    key_rotation_grace_seconds: int = Field(
        86400, ge=0, description="How long a rotated API key keeps working after its rotation."
    )
    cors_origins: str = Field("", description="Browser origins allowed by CORS (comma list; * for any).")
    bootstrap_admin_key_hash: str | None = Field(
        None, description="'<key id>:<sha256 hex>' of an admin key to store on start (from `keys generate`)."
    )
    auth_cache_seconds: float = Field(
        5.0, ge=0, le=60, description="How long a verified credential is reused without a database look-up."
    )
    redact_key: SecretStr | None = Field(
        None, description="Key of the keyed hash `hokusai data validate --redact-method hash` writes."
    )
    pipeline_data_root: str | None = Field(
        None, description="Where uploaded data lives: a local folder or s3://bucket/prefix."
    )
    upload_max_bytes: int = Field(
        1 << 30, ge=1, description="Largest data file an upload may carry, in bytes."
    )
    job_runner: Literal["local", "ecs", "container"] = Field(
        "local", description="Where evaluation runs execute."
    )
    job_workers: int = Field(2, ge=1, le=64, description="Evaluation runs at once with the local runner.")
    job_standby: bool = Field(
        True,
        description="Each local runner slot keeps a worker started ahead, its imports done (~360 MB idle).",
    )
    ecs_cluster: str | None = Field(None, description="ECS cluster for runs (job runner `ecs`).")
    ecs_task_definition: str | None = Field(None, description="Task definition for runs (job runner `ecs`).")
    ecs_subnets: str = Field("", description="Subnets for run tasks (comma list; job runner `ecs`).")
    ecs_security_groups: str = Field("", description="Security groups for run tasks (comma list).")
    ecs_container: str = Field("api", description="Container in the task definition that runs the command.")
    container_engine_socket: str = Field(
        "/var/run/docker.sock",
        description="Unix socket of the Docker-compatible Engine API (runner `container`).",
    )
    container_image: str | None = Field(None, description="Image of the run containers (runner `container`).")
    container_network: str | None = Field(
        None, description="Network the run containers join (runner `container`)."
    )
    # evaluation pipeline and attestations (issue 4)
    signer_key: SecretStr | None = Field(
        None, description="Hex secp256k1 private key that signs attestations (Secrets Manager in AWS)."
    )
    signer_key_file: Path | None = Field(
        None, description="Signer key file used when SIGNER_KEY is unset; default <data dir>/keys/signer.key."
    )
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI of the pipeline. Default: MLFLOW_URL if up, else the store."
    )
    # authorization (issue 10)
    chain_ids: str = Field("1", description="Chain ids a SIWE sign-in message may name (comma list).")
    json_body_max_bytes: int = Field(
        1 << 20, ge=1024, description="Largest request body of every route but the uploads, in bytes."
    )
    json_max_depth: int = Field(
        64, ge=2, le=1000, description="Deepest nesting of arrays and objects a JSON body may have."
    )
    model_upload_max_bytes: int = Field(
        256 << 20, ge=1, description="Largest model archive a model registration may upload, in bytes."
    )
    archive_max_unpacked_bytes: int = Field(
        256 << 20, ge=1, description="Largest unpacked size of an uploaded model archive, in bytes."
    )
    owner_storage_max_bytes: int = Field(
        10 << 30, ge=1, description="Bytes of uploaded data one principal may keep stored."
    )
    # contributors' rights (issue 23)
    retention_days: int = Field(
        365, ge=0, le=36500, description="Days a raw contribution is kept after its last evaluation."
    )
    retention_sweep_seconds: float = Field(
        3600.0,
        ge=0,
        le=86400,
        description="How often the API deletes raw contributions past retention (0: never).",
    )
    wallet_key_max_seconds: int = Field(
        30 * 86400, ge=60, description="Longest lifetime of an API key minted under a wallet sign-in."
    )
    forwarded_allow_ips: str = Field(
        "",
        description="Proxies whose X-Forwarded-For is believed (comma list, e.g. the load balancer's CIDR).",
    )
    signer_url: str | None = Field(
        None, description="API URL a run worker asks to sign its attestation. Default: the API's URL."
    )
    # on-chain rewards: EIP-712 domains, attesters, mint requests (issue 13)
    chain_id: int = Field(
        1, ge=1, description="EIP-155 chain id of the attestation and mint-request domains."
    )
    delta_verifier_address: str | None = Field(
        None, description="DeltaVerifier contract (EIP-55) in both domains; mint requests need it."
    )
    attester_key_files: str = Field(
        "", description="Attester key files (comma list, development). Default: the signer key alone."
    )
    attester_kms_key_ids: str = Field(
        "", description="AWS KMS attester keys (comma list of ids, ARNs or alias/NAME; ECC_SECG_P256K1)."
    )
    attester_threshold: int = Field(
        1, ge=1, le=100, description="Attester signatures a mint request carries (m of n)."
    )
    mint_deadline_seconds: int = Field(
        432000, ge=60, le=31_536_000, description="How long a signed mint request stays valid (seconds)."
    )
    compute_price_usd_per_hour: float = Field(
        0.05826, ge=0, le=1000, description="Price of one hour of run compute (actualCostUsdMicro)."
    )
    # acceptance events and webhooks (issue 13)
    webhook_key: SecretStr | None = Field(
        None, description="Fernet key that encrypts webhook secrets at rest. Required in production."
    )
    webhook_allow_private: bool = Field(
        False, description="Allow webhook URLs on loopback, private and link-local addresses (tests, local)."
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Timeout of one webhook delivery attempt (connect and answer)."
    )
    webhook_retry_base_seconds: float = Field(
        1.0, gt=0, le=3600, description="Wait before a webhook delivery's second attempt; doubles each time."
    )
    webhook_retry_max_seconds: float = Field(
        600.0, gt=0, le=86400, description="Longest wait between two attempts of a webhook delivery."
    )
    webhook_max_attempts: int = Field(
        16, ge=1, le=1000, description="Attempts of one webhook delivery before it is marked failed."
    )
    # contributor valuation (issue 11)
    valuation_budget: int = Field(
        DEFAULT_VALUATION_BUDGET,
        ge=2,
        le=100_000,
        description="Retrains one run's valuation may use (noise seeds count).",
    )
    valuation_noise_seeds: int = Field(
        3, ge=0, le=100, description="Extra seeds the full candidate is retrained with for the noise floor."
    )
    valuation_tolerance_pp: float = Field(
        0.1, ge=0, description="Sampling stops once every value's standard error is below this (pp)."
    )
    valuation_method: Literal[
        "auto", "exact_shapley", "gp_shapley", "kernel_shapley", "permutation_shapley", "msr_banzhaf"
    ] = Field("auto", description="Estimator of contributor values; auto: exact when it fits the budget.")
    valuation_workers: int = Field(
        1, ge=1, le=256, description="Local processes that run valuation retrains (joblib); 1: in process."
    )
    dask_scheduler: str | None = Field(
        None, description="tcp://HOST:PORT of an existing Dask scheduler that runs valuation retrains."
    )
    near_duplicate_tolerance: float = Field(
        0.05, ge=0, le=10, description="Near-copy tolerance in base standard deviations, on every feature."
    )
    # results pages (issue 14)
    session_key: SecretStr | None = Field(
        None, description="Secret that signs the results pages' session cookies (required in production)."
    )

    @field_validator("database_url", "mlflow_backend_store_uri")
    @classmethod
    def _sql_url(cls, value: str | None) -> str | None:
        return _check_sql_url(value or None)

    @field_validator("artifact_root", "pipeline_data_root")
    @classmethod
    def _storage_root(cls, value: str | None) -> str | None:
        if not value:
            return None
        if "://" in value and not value.startswith(("s3://", "file://")):
            raise ValueError("must be a local folder or an s3://bucket/prefix URI")
        if value.startswith("s3://") and len(value) <= len("s3://"):
            raise ValueError("s3:// URI needs a bucket name")
        return value

    @field_validator("tracking_uri")
    @classmethod
    def _tracking_uri(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://", *_SQL_SCHEMES)):
            raise ValueError("must be an http(s):// MLflow server URL or a sqlite:/// or postgresql:// store")
        return normalize_sql_url(value).rstrip("/")

    @field_validator("dask_scheduler")
    @classmethod
    def _dask_address(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("tcp://", "tls://")) or len(value.split("://", 1)[1]) < 3:
            raise ValueError("must be a tcp://HOST:PORT (or tls://HOST:PORT) Dask scheduler address")
        return value

    @field_validator("chain_ids")
    @classmethod
    def _chain_ids(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items or not all(item.isdigit() and int(item) > 0 for item in items):
            raise ValueError("must be a comma list of positive chain ids, e.g. 1 or 1,8453")
        return ",".join(items)

    @field_validator("s3_endpoint_url", "mlflow_url", "signer_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("admin_addresses", "cors_origins", "attester_key_files", "attester_kms_key_ids")
    @classmethod
    def _comma_list(cls, value: str) -> str:
        return ",".join(item.strip() for item in (value or "").split(",") if item.strip())

    @field_validator("admin_addresses")
    @classmethod
    def _addresses(cls, value: str) -> str:
        from hokusai.wallet import checksum_address

        try:
            return ",".join(checksum_address(item) for item in value.split(",") if item)
        except HokusaiError as exc:
            raise ValueError(exc.message) from None

    @field_validator("delta_verifier_address")
    @classmethod
    def _contract_address(cls, value: str | None) -> str | None:
        from hokusai.wallet import checksum_address

        if not value:
            return None
        try:
            address = checksum_address(value.strip())
        except HokusaiError as exc:
            raise ValueError(exc.message) from None
        if int(address, 16) == 0:
            raise ValueError("must not be the zero address")
        return address

    @field_validator("webhook_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        from cryptography.fernet import Fernet

        try:
            Fernet(value.get_secret_value().strip().encode())
        except (ValueError, TypeError):
            raise ValueError(
                "must be a Fernet key (32 url-safe base64-encoded bytes), e.g. from "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _limits_storage(cls, value: str) -> str:
        if not value.startswith(_LIMITS_SCHEMES):
            raise ValueError("must be memory:// or a redis://HOST:PORT (rediss://, redis+sentinel://) URL")
        return value

    @field_validator("bootstrap_admin_key_hash")
    @classmethod
    def _bootstrap_line(cls, value: str | None) -> str | None:
        if not value:
            return None
        from hokusai.api_keys import parse_bootstrap_line

        key_id, digest = parse_bootstrap_line(value)
        return f"{key_id}:{digest}"

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'hokusai.db'}"
        if self.mlflow_backend_store_uri is None:
            self.mlflow_backend_store_uri = f"sqlite:///{self.data_dir / 'mlflow.db'}"
        if self.artifact_root is None:
            self.artifact_root = str(self.data_dir / "mlartifacts")
        if self.pipeline_data_root is None:
            self.pipeline_data_root = str(self.data_dir / "pipeline-data")
        if self.valuation_budget < self.valuation_noise_seeds + 2:
            raise ValueError(
                "HOKUSAI_VALUATION_BUDGET must be at least HOKUSAI_VALUATION_NOISE_SEEDS + 2 "
                "(the noise seeds, the base-only model and one coalition)"
            )
        if self.job_runner == "ecs" and not (
            self.ecs_cluster and self.ecs_task_definition and self.ecs_subnets
        ):
            raise ValueError(
                "job runner 'ecs' needs HOKUSAI_ECS_CLUSTER, HOKUSAI_ECS_TASK_DEFINITION "
                "and HOKUSAI_ECS_SUBNETS"
            )
        if self.job_runner == "container" and not self.container_image:
            raise ValueError("job runner 'container' needs HOKUSAI_CONTAINER_IMAGE")
        if self.public_domain is None:
            self.public_domain = self.api_url.removeprefix("http://")
        if self.signer_key_file is None:
            self.signer_key_file = self.data_dir / "keys" / "signer.key"
        self.signer_key_file = self.signer_key_file.expanduser().resolve()
        if self.mlflow_url is None:
            host = "127.0.0.1" if self.mlflow_host in ("0.0.0.0", "::") else self.mlflow_host
            self.mlflow_url = f"http://{host}:{self.mlflow_port}"
        if self.signer_url is None:
            self.signer_url = self.api_url
        return self

    @property
    def admin_address_set(self) -> frozenset[str]:
        """The EIP-55 addresses of ``admin_addresses``."""
        return frozenset(a for a in self.admin_addresses.split(",") if a)

    @property
    def chain_id_set(self) -> frozenset[int]:
        """The chain ids of ``chain_ids``."""
        return frozenset(int(item) for item in self.chain_ids.split(","))

    @property
    def attester_key_file_list(self) -> list[str]:
        return [path for path in self.attester_key_files.split(",") if path]

    @property
    def attester_kms_key_id_list(self) -> list[str]:
        return [key for key in self.attester_kms_key_ids.split(",") if key]

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin for origin in self.cors_origins.split(",") if origin]

    @property
    def live_keys(self) -> bool:
        """Production mints ``hk_live_`` keys; every other environment ``hk_test_``."""
        return self.environment == "production"

    @property
    def public_origin(self) -> str:
        """The platform's public origin: ``https://<public domain>``, ``http://`` outside production."""
        return f"{'https' if self.environment == 'production' else 'http'}://{self.public_domain}"

    @property
    def api_url(self) -> str:
        """Base URL of the API as a local user reaches it."""
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    return ENV_PREFIX + field.upper()


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if not err["loc"]:  # a rule across several settings names them itself
            parts.append(f"invalid settings: {msg}")
            continue
        field = str(err["loc"][0])
        info = Settings.model_fields.get(field)
        secret = info is not None and "SecretStr" in str(info.annotation)
        shown = "'**********'" if secret else repr(err.get("input"))  # a secret is never printed
        parts.append(f"{env_name(field)}={shown} is invalid: {msg}")
    return "; ".join(parts)


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``HOKUSAI_*`` variables that reproduce ``settings`` in a child process (secrets included)."""
    env = {}
    for field, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[env_name(field)] = str(value)
    return env


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning a bad value into one readable ``ConfigError`` line."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
