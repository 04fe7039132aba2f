"""What a pipeline run is asked to do (``PipelineSpec``), what it reports (``ProgressEvent``) and what
it returns (``PipelineResult``). Plain frozen dataclasses; a bad value raises ``InvalidInput``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hokusai.errors import InvalidInput
from hokusai.evaluation.families import TaskKind
from hokusai.pipeline.options import DEFAULTS, EvaluationOptions, GuardrailOption, build_options
from hokusai.wallet import checksum_address

if TYPE_CHECKING:
    from hokusai.pipeline.benchmark_spec import BenchmarkSpec

DEFAULT_SEED = DEFAULTS.seed
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Contribution:
    """One contributed data file, the wallet of its contributor (optional only in a preview) and the hash of
    the terms that wallet signed (a platform contribution's; recorded in the report)."""

    path: Path
    wallet: str | None = None
    terms_hash: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.wallet is not None:
            object.__setattr__(self, "wallet", checksum_address(self.wallet))


@dataclass(frozen=True)
class PipelineSpec:
    """One evaluation: the baseline, the data, the contributions and the options.

    The option fields take their defaults and their checks from ``EvaluationOptions`` (defined once);
    ``benchmark_spec`` is the model's contract when there is one: its contribution schema checks the data
    (no schema is inferred), its pinned SHA-256 the benchmark, its task and rules the decision.
    """

    baseline: str
    train: Path
    benchmark: Path
    contributions: tuple[Contribution, ...]
    target: str
    primary_metric: str | None = DEFAULTS.primary_metric
    seed: int = DEFAULTS.seed
    sample: int | None = DEFAULTS.sample
    threshold: float = DEFAULTS.threshold
    min_benchmark_rows: int = DEFAULTS.min_benchmark_rows
    metric_weights: Mapping[Any, float] | None = DEFAULTS.metric_weights
    guardrails: tuple[GuardrailOption, ...] = DEFAULTS.guardrails
    valuation_budget: int | None = DEFAULTS.valuation_budget  # retrains (default: the platform setting)
    accuracy_tolerance: float | None = DEFAULTS.accuracy_tolerance
    task: TaskKind | None = None  # None: binary or multiclass, from the labels (regression must be said)
    benchmark_spec: BenchmarkSpec | None = None
    spec_id: str | None = None  # the spec's id and version on the platform (recorded in the report)
    spec_version: int | None = None
    cooldown_left_seconds: float | None = None  # until the model's cooldown since its last DeltaOne ends
    register: bool = True
    model_name: str | None = None
    out_dir: Path | None = None
    preview: bool = False
    baseline_hash: str | None = None  # the model file's SHA-256 at registration: checked before loading
    baseline_format: str | None = None  # its recorded serialization format (not what the directory says)
    allow_pickle: bool = False  # pickle/cloudpickle baselines run code when loaded: only when trusted
    experiment: str | None = None  # MLflow experiment to record in (default: hokusai-evaluations)

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", Path(self.train))
        object.__setattr__(self, "benchmark", Path(self.benchmark))
        object.__setattr__(self, "contributions", tuple(self.contributions))
        guardrails = tuple(
            g if isinstance(g, GuardrailOption) else GuardrailOption.model_validate(g)
            for g in self.guardrails
        )
        object.__setattr__(self, "guardrails", guardrails)
        if self.out_dir is not None:
            object.__setattr__(self, "out_dir", Path(self.out_dir))
        if not self.baseline:
            raise InvalidInput("a baseline model (URI or MLflow model directory) is required")
        if not self.contributions:
            raise InvalidInput("at least one contribution is required")
        if not self.preview and any(c.wallet is None for c in self.contributions):
            raise InvalidInput(
                "every contribution needs its contributor's wallet (--contributor 0x…, in order)"
            )
        if not self.target:
            raise InvalidInput("the target column is required (--target)")
        self.options  # noqa: B018 - validates every option (one InvalidInput line)
        if self.task is not None:
            self.options.primary_for(self.task)
        if self.benchmark_spec is not None and self.benchmark_spec.target_column != self.target:
            raise InvalidInput("the benchmark spec is for another target column", code="bad_options")
        if self.model_name is not None and not MODEL_NAME.match(self.model_name):
            raise InvalidInput(
                f"model name {self.model_name!r} must be 1-128 letters, digits, '.', '_' or '-' (no '/')"
            )

    @property
    def options(self) -> EvaluationOptions:
        """The evaluation options of this run, checked."""
        return build_options(**{name: getattr(self, name) for name in EvaluationOptions.model_fields})


Step = Literal[
    "load inputs",
    "load baseline",
    "integrate contributions",
    "train candidate",
    "score models",
    "compare",
    "weigh contributors",
    "attest",
    "record",
]
STEPS: tuple[Step, ...] = Step.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ProgressEvent:
    """A step started, progressed or finished (``index`` is 1-based out of ``total`` steps).

    ``progress`` events carry the work inside a step: ``done`` of ``planned`` units (valuation:
    retrain i of the budget; it may finish early, when every standard error is small enough)."""

    step: Step
    index: int
    total: int
    state: Literal["started", "progress", "finished", "skipped"]
    detail: str = ""
    done: int | None = None
    planned: int | None = None


@dataclass(frozen=True)
class MetricResult:
    """One metric of both models: the gain (improvement, in ``unit``: pp for shares) and its interval;
    ``delta_pp`` and its interval for shares only."""

    baseline: float
    candidate: float
    gain: float
    ci_low: float | None
    ci_high: float | None
    unit: str
    delta_pp: float | None = None
    ci_low_pp: float | None = None
    ci_high_pp: float | None = None


@dataclass(frozen=True)
class ContributorResult:
    """One contribution's outcome: rows, near-copies dropped, value ± standard error (pp), how it was valued
    (``exact`` or ``estimated``, with the run's retrains), its weight, and whether it is paid and why
    (``reason``: ``evaluation.report.REASONS``; ``excluded``: the validation's message when it failed)."""

    wallet: str | None
    data_hash: str
    rows_submitted: int
    rows_used: int
    weight_bps: int
    value_pp: float | None = None
    value_se_pp: float | None = None
    near_duplicates: int = 0
    method: str | None = None
    retrains: int | None = None
    paid: bool = False
    reason: str | None = None
    excluded: str | None = None

    @property
    def weight(self) -> float:
        return self.weight_bps / 10_000


@dataclass(frozen=True)
class PipelineResult:
    """Everything a caller (CLI, API worker) reads after a run."""

    pipeline_run_id: str
    kind: str
    outcome: str
    accepted: bool
    delta_one_score: float
    primary_metric: str
    task: str
    gain: float
    ci_low: float | None
    ci_high: float | None
    unit: str
    delta_pp: float | None
    ci_low_pp: float | None
    ci_high_pp: float | None
    metric_deltas: dict[str, MetricResult]
    contributors: list[ContributorResult]
    report: dict[str, Any]
    out_dir: Path
    report_path: Path | None
    attestation: dict[str, Any] | None = None
    attestation_path: Path | None = None
    plots: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    mlflow_run_id: str | None = None
    tracking_uri: str | None = None
    registered_model_name: str | None = None
    registered_model_version: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def attestation_id(self) -> str | None:
        """The id the API serves the attestation under: the pipeline run id."""
        return self.pipeline_run_id if self.attestation is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (paths as strings, weights as fractions too)."""
        data = asdict(self)
        data["attestation_id"] = self.attestation_id
        data["contributors"] = [{**asdict(c), "weight": c.weight} for c in self.contributors]
        for key in ("out_dir", "report_path", "attestation_path"):
            data[key] = None if data[key] is None else str(data[key])
        data["plots"] = [str(p) for p in self.plots]
        data["files"] = [str(p) for p in self.files]
        return data
