"""What a pipeline run is asked to do (``PipelineSpec``), what it reports (``ProgressEvent``) and what
it returns (``PipelineResult``). Plain frozen dataclasses; a bad value raises ``InvalidInput``."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from hokusai.errors import InvalidInput
from hokusai.evaluation.decision import DEFAULT_MIN_BENCHMARK_ROWS, DEFAULT_THRESHOLD_PP
from hokusai.evaluation.metrics import METRICS
from hokusai.wallet import checksum_address

DEFAULT_SEED = 42
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Contribution:
    """One contributed data file and the wallet of its contributor (optional only in a preview)."""

    path: Path
    wallet: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.wallet is not None:
            object.__setattr__(self, "wallet", checksum_address(self.wallet))


@dataclass(frozen=True)
class PipelineSpec:
    """One evaluation: the baseline, the data, the contributions and the options."""

    baseline: str
    train: Path
    benchmark: Path
    contributions: tuple[Contribution, ...]
    target: str
    primary_metric: str | None = None
    seed: int = DEFAULT_SEED
    sample: int | None = None
    threshold_pp: float = DEFAULT_THRESHOLD_PP
    min_benchmark_rows: int = DEFAULT_MIN_BENCHMARK_ROWS
    metric_weights: dict[str, float] | None = None
    register: bool = True
    model_name: str | None = None
    out_dir: Path | None = None
    preview: bool = False
    baseline_hash: str | None = (
        None  # the model file's SHA-256 recorded at registration: checked before loading
    )
    baseline_format: str | None = None  # its recorded serialization format (not what the directory claims)
    allow_pickle: bool = False  # pickle/cloudpickle baselines run code when loaded: only when trusted
    experiment: str | None = None  # MLflow experiment to record in (default: hokusai-evaluations)
    valuation_budget: int | None = None  # retrains for contributor valuation (default: the setting)

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", Path(self.train))
        object.__setattr__(self, "benchmark", Path(self.benchmark))
        object.__setattr__(self, "contributions", tuple(self.contributions))
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
        for metric in [self.primary_metric, *(self.metric_weights or {})]:
            if metric is not None and metric not in METRICS:
                raise InvalidInput(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
        if any(not math.isfinite(w) or w < 0 for w in (self.metric_weights or {}).values()):
            raise InvalidInput("metric weights must be finite and >= 0")
        if self.metric_weights is not None and sum(self.metric_weights.values()) <= 0:
            raise InvalidInput("metric weights need a positive sum")
        if not 0 <= self.seed < 2**32:
            raise InvalidInput(f"seed must be between 0 and 2^32-1, got {self.seed}")
        if self.sample is not None and self.sample < 2:
            raise InvalidInput(f"sample must be at least 2 rows, got {self.sample}")
        if not math.isfinite(self.threshold_pp) or self.threshold_pp < 0:
            raise InvalidInput(f"threshold must be >= 0 percentage points, got {self.threshold_pp}")
        if self.valuation_budget is not None and not 2 <= self.valuation_budget <= 100_000:
            raise InvalidInput(f"valuation budget must be 2..100000 retrains, got {self.valuation_budget}")
        if self.min_benchmark_rows < 1:
            raise InvalidInput(f"minimum benchmark rows must be >= 1, got {self.min_benchmark_rows}")
        if self.model_name is not None and not MODEL_NAME.match(self.model_name):
            raise InvalidInput(
                f"model name {self.model_name!r} must be 1-128 letters, digits, '.', '_' or '-' (no '/')"
            )


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
    baseline: float
    candidate: float
    delta_pp: float
    ci_low_pp: float | None
    ci_high_pp: float | None


@dataclass(frozen=True)
class ContributorResult:
    """One contribution's outcome: rows, near-copies dropped, value ± standard error (pp), weight."""

    wallet: str | None
    data_hash: str
    rows_submitted: int
    rows_used: int
    weight_bps: int
    value_pp: float | None = None
    value_se_pp: float | None = None
    near_duplicates: int = 0

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
    delta_pp: float
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
