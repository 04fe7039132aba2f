"""The pipeline's steps as plain typed functions, in the order ``run_pipeline`` calls them:
load baseline -> integrate contributions -> train candidate -> score -> compare -> weigh -> attest.
(Reading files is ``inputs.load_inputs``; recording is ``record.record``.)"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hokusai.attestation.content import pipeline_run_id, run_identity
from hokusai.attestation.document import BenchmarkEntry, ContributorEntry, ModelEntry, Sealer, build_document
from hokusai.config import Settings
from hokusai.errors import InvalidData
from hokusai.evaluation.attribution import Attribution, Progress, ValuationConfig, attribute
from hokusai.evaluation.compare import CONFIDENCE, RESAMPLES, MetricComparison
from hokusai.evaluation.decision import Decision, Guardrail, Reason, decide
from hokusai.evaluation.executor import RetrainProblem
from hokusai.evaluation.families import metric
from hokusai.evaluation.integrate import Integration, integrate
from hokusai.evaluation.metrics import task_for
from hokusai.evaluation.regression import RegressionTask, default_tolerance, paired_tests
from hokusai.evaluation.report import EVALUATION, PREVIEW, build_report
from hokusai.evaluation.sampling import sample_fraction, stratified_sample
from hokusai.evaluation.scoring import AnyTask, Scored, compare_scored, predict_benchmark, utility
from hokusai.evaluation.training import (
    feature_columns,
    fit,
    model_type,
    seeded_clone,
    task_of,
    training_config_hash,
)
from hokusai.pipeline.inputs import Inputs
from hokusai.pipeline.spec import PipelineSpec
from hokusai.tracking.models import LoadedModel, ModelSource, fetch_model, load_model_dir, save_model_dir
from hokusai.tracking.target import TrackingTarget


@dataclass(frozen=True)
class Baseline:
    model: LoadedModel
    source: ModelSource


@dataclass(frozen=True)
class Prepared:
    """Integrated (and, with ``sample``, sampled) data ready for training and scoring."""

    integration: Integration
    features: list[str]
    task: AnyTask
    base: pd.DataFrame
    contributions: list[pd.DataFrame]
    benchmark: pd.DataFrame
    y: np.ndarray
    sampled: bool

    def training_frame(self) -> pd.DataFrame:
        """Base + every contribution, in order (the candidate's training set = the full coalition)."""
        return pd.concat([self.base, *self.players()], ignore_index=True)

    def players(self) -> list[pd.DataFrame]:
        """The contributions with rows, in order: the players of the valuation."""
        return [c for c in self.contributions if len(c)]

    @property
    def contributed_rows(self) -> int:
        return sum(len(c) for c in self.contributions)

    def samples(self) -> dict[str, Any]:
        return {
            "base_rows": len(self.base),
            "contributed_rows": self.contributed_rows,
            "training_rows": len(self.base) + self.contributed_rows,
            "benchmark_rows": len(self.benchmark),
            "sampled": self.sampled,
        }


@dataclass(frozen=True)
class Trained:
    """The two models compared: the baseline (refit on the sample when sampling) and the candidate."""

    baseline: LoadedModel
    candidate: LoadedModel


@dataclass(frozen=True)
class Compared:
    baseline: Scored
    candidate: Scored
    comparisons: dict[str, MetricComparison]
    decision: Decision
    weights: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class Weighed:
    attribution: Attribution

    @property
    def weights_bps(self) -> list[int]:
        return self.attribution.weights.bps


def load_baseline(spec: PipelineSpec, target: TrackingTarget, workdir: Path) -> Baseline:
    """Fetch the baseline, check its file is the registered one, load it safely; it must be a fitted
    scikit-learn-compatible classifier (a regressor for a regression task)."""
    directory, source = fetch_model(target, spec.baseline, workdir / "baseline")
    model = load_model_dir(
        directory, expected_hash=spec.baseline_hash, expected_format=spec.baseline_format,
        allow_pickle=spec.allow_pickle,
    )  # fmt: skip
    task_of(model.estimator, f"baseline {spec.baseline}", task_kind(spec), spec.primary_metric)
    return Baseline(model=model, source=source)


def with_model_task(spec: PipelineSpec, baseline: Baseline) -> PipelineSpec:
    """``spec`` with the task its baseline implies when none was said: a regressor means regression."""
    if task_kind(spec) is not None:
        return spec
    task = task_of(baseline.model.estimator, f"baseline {spec.baseline}", None, spec.primary_metric)
    return spec if task is None else replace(spec, task="regression")


def task_kind(spec: PipelineSpec) -> str | None:
    """The spec's task (its benchmark spec's first), or None: classification, read off the labels."""
    if spec.benchmark_spec is not None:
        return spec.benchmark_spec.task
    return spec.task


def prepare_data(
    inputs: Inputs, baseline: Baseline, spec: PipelineSpec, near_tolerance: float | None
) -> Prepared:
    """Integrate the contributions (near-copies judged on the model's features), then draw the
    stratified sample when ``spec.sample`` is set."""
    features = feature_columns(baseline.model.estimator, list(inputs.train.frame.columns), spec.target)
    integration = integrate(
        inputs.train.frame,
        inputs.benchmark.frame,
        [c.frame for c in inputs.contributions],
        spec.target,
        names=[c.name for c in inputs.contributions],
        features=features,
        near_tolerance=near_tolerance,
        continuous_target=task_kind(spec) == "regression",
    )
    total = len(integration.base) + integration.contributed_rows
    fraction = sample_fraction(total, spec.sample)
    base = stratified_sample(integration.base, spec.target, fraction, spec.seed)
    contributions = [
        stratified_sample(c, spec.target, fraction, spec.seed) for c in integration.contributions
    ]
    benchmark = stratified_sample(
        integration.benchmark,
        spec.target,
        sample_fraction(len(integration.benchmark), spec.sample),
        spec.seed,
    )
    task: AnyTask
    if task_kind(spec) == "regression":
        tolerance = spec.accuracy_tolerance or default_tolerance(base[spec.target].to_numpy())
        task, y = RegressionTask(tolerance), benchmark[spec.target].to_numpy(dtype=float)
    else:
        labels = [baseline.model.estimator.classes_, benchmark[spec.target], base[spec.target]]
        task = task_for(*labels, *(c[spec.target] for c in contributions))
        y = task.indices(benchmark[spec.target])
        kind = task_kind(spec)
        if kind is not None and kind != ("binary" if task.binary else "multiclass"):
            raise InvalidData(
                f"the benchmark spec says {kind}, the labels have {len(task.classes)} classes",
                code="task_mismatch",
            )
    return Prepared(
        integration=integration,
        features=features,
        task=task,
        base=base,
        contributions=contributions,
        benchmark=benchmark,
        y=y,
        sampled=spec.sample is not None,
    )


def kind_of(task: AnyTask) -> str:
    """``binary``, ``multiclass`` or ``regression``."""
    if isinstance(task, RegressionTask):
        return "regression"
    return "binary" if task.binary else "multiclass"


def train_candidate(baseline: Baseline, prepared: Prepared, spec: PipelineSpec, workdir: Path) -> Trained:
    """Fit a seeded clone on base + contributions (and, when sampling, refit the baseline on the
    sampled base rows so both models saw the same base data); save and hash both."""
    reference = baseline.model
    if prepared.sampled:
        refit = fit(
            seeded_clone(baseline.model.estimator, spec.seed), prepared.base, prepared.features, spec.target
        )
        reference = save_model_dir(refit, workdir / "baseline_model")
    estimator = seeded_clone(baseline.model.estimator, spec.seed)
    candidate = fit(estimator, prepared.training_frame(), prepared.features, spec.target)
    return Trained(baseline=reference, candidate=save_model_dir(candidate, workdir / "model"))


def score_models(trained: Trained, prepared: Prepared) -> tuple[Scored, Scored]:
    """Outputs of both models on the same benchmark rows."""
    return (
        predict_benchmark(trained.baseline.estimator, prepared.benchmark, prepared.features, prepared.task),
        predict_benchmark(trained.candidate.estimator, prepared.benchmark, prepared.features, prepared.task),
    )


def primary_metric(spec: PipelineSpec, task: AnyTask) -> str:
    return spec.options.primary_for(kind_of(task))  # type: ignore[arg-type]


def compare(
    scored: tuple[Scored, Scored], prepared: Prepared, spec: PipelineSpec, seconds: float
) -> Compared:
    """Metrics, paired intervals and the DeltaOne decision (guardrails and cooldown included)."""
    baseline, candidate = scored
    comparisons = compare_scored(prepared.y, baseline, candidate, prepared.task, seed=spec.seed)
    primary = primary_metric(spec, prepared.task)
    weights = dict(spec.metric_weights or {primary: 1.0})
    for name in [*weights, *(g.metric for g in spec.guardrails)]:
        metric(name, kind_of(prepared.task))  # type: ignore[arg-type]
    decision = decide(
        comparisons,
        primary_metric=primary,
        weights=weights,
        benchmark_rows=len(prepared.benchmark),
        threshold=spec.threshold,
        min_benchmark_rows=spec.min_benchmark_rows,
        guardrails=[Guardrail(g.metric, g.max_drop) for g in spec.guardrails],
        cooldown_left_seconds=spec.cooldown_left_seconds,
    )
    return Compared(baseline, candidate, comparisons, decision, weights, seconds)


def draw_plots(compared: Compared, prepared: Prepared, spec: PipelineSpec, directory: Path) -> list[Path]:
    """ROC curves, metric delta bars with intervals, confusion matrices (PNG files in ``directory``)."""
    from hokusai.evaluation.plots import write_plots  # matplotlib loads only when drawing

    return write_plots(
        directory, prepared.y, compared.baseline, compared.candidate, prepared.task, compared.comparisons,
        primary=compared.decision.primary_metric, threshold=spec.threshold,
    )  # fmt: skip


def no_contribution_decision(prepared: Prepared, spec: PipelineSpec) -> Decision:
    """The outcome when no contributed row survived integration (nothing is trained)."""
    primary = primary_metric(spec, prepared.task)
    return Decision(
        reason=Reason.NO_CONTRIBUTION_ROWS,
        delta_one_score=0.0,
        primary_metric=primary,
        gain=0.0,
        ci_low=None,
        ci_high=None,
        unit=metric(primary).unit,
        threshold=spec.threshold,
        min_benchmark_rows=spec.min_benchmark_rows,
        benchmark_rows=len(prepared.benchmark),
    )


def valuation_config(spec: PipelineSpec, settings: Settings) -> ValuationConfig:
    """The run's valuation settings (the spec's budget overrides the platform's)."""
    return ValuationConfig(
        budget=spec.valuation_budget or settings.valuation_budget,
        noise_seeds=settings.valuation_noise_seeds,
        tolerance_pp=settings.valuation_tolerance_pp,
        method=settings.valuation_method,
        workers=settings.valuation_workers,
        dask_scheduler=settings.dask_scheduler,
    )


def weigh_contributors(
    baseline: Baseline,
    prepared: Prepared,
    compared: Compared,
    spec: PipelineSpec,
    config: ValuationConfig,
    progress: Progress | None = None,
) -> Weighed:
    """Value each contribution (group semivalues within the retrain budget) and weigh by value."""
    primary = compared.decision.primary_metric
    comparison = compared.comparisons[primary]
    problem = RetrainProblem(
        estimator=baseline.model.estimator,
        base=prepared.base,
        players=tuple(prepared.players()),
        benchmark=prepared.benchmark,
        y=prepared.y,
        features=tuple(prepared.features),
        target=spec.target,
        task=prepared.task,
        metric=primary,
    )
    attribution = attribute(
        problem,
        [len(c) > 0 for c in prepared.contributions],
        full_utility=utility(primary, comparison.candidate),
        baseline_utility=utility(primary, comparison.baseline),
        accepted=compared.decision.accepted,
        # a sampled run's baseline is the seeded clone on the (sampled) base rows: the empty coalition
        empty_utility=utility(primary, comparison.baseline) if prepared.sampled else None,
        seed=spec.seed,
        config=config,
        progress=progress,
    )
    return Weighed(attribution)


def run_options(
    spec: PipelineSpec,
    primary: str,
    weights: dict[str, float],
    config: ValuationConfig,
    near_tolerance: float | None,
    task: str,
    accuracy_tolerance: float | None,
) -> dict[str, Any]:
    """The options that, with the input hashes, define the run (and its id). Where retrains run
    (workers, Dask) is not among them: it does not change the result."""
    benchmark_spec = spec.benchmark_spec
    return {
        "kind": PREVIEW if spec.preview else EVALUATION,
        "task": task,
        "target": spec.target,
        "primary_metric": primary,
        "metric_weights": weights,
        "guardrails": [g.model_dump() for g in spec.guardrails],
        "seed": spec.seed,
        "sample": spec.sample,
        "threshold": spec.threshold,
        "threshold_unit": metric(primary).unit,
        "min_benchmark_rows": spec.min_benchmark_rows,
        "accuracy_tolerance": accuracy_tolerance,
        "benchmark_spec": None
        if benchmark_spec is None
        else {
            "id": spec.spec_id,
            "version": spec.spec_version,
            "hash": benchmark_spec.canonical_hash(),
        },
        "confidence": CONFIDENCE,
        "resamples": RESAMPLES,
        **config.options(),
        "near_duplicate_tolerance": near_tolerance,
    }


def run_id_for(inputs: Inputs, spec: PipelineSpec, baseline_hash: str, options: dict[str, Any]) -> str:
    """The deterministic run id (also the attestation id)."""
    return pipeline_run_id(
        run_identity(
            baseline_model_hash=baseline_hash,
            train_hash=inputs.train.data_hash,
            benchmark_hash=inputs.benchmark.data_hash,
            contributions=[
                (data.data_hash, c.wallet or "")
                for data, c in zip(inputs.contributions, spec.contributions, strict=True)
            ],
            options=options,
        )
    )


def make_report(
    run_id: str,
    inputs: Inputs,
    prepared: Prepared,
    spec: PipelineSpec,
    decision: Decision,
    options: dict[str, Any],
    compared: Compared | None = None,
    weighed: Weighed | None = None,
    commitments: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The companion evaluation report (see ``hokusai.evaluation.report``)."""
    tests = None
    if compared is not None and isinstance(prepared.task, RegressionTask):
        tests = paired_tests(prepared.y, compared.baseline, compared.candidate)  # type: ignore[arg-type]
    return build_report(
        kind=options["kind"],
        run_id=run_id,
        decision=decision,
        comparisons=compared.comparisons if compared else {},
        task=prepared.task,
        task_kind=kind_of(prepared.task),
        tests=tests,
        options=options,
        samples=prepared.samples(),
        contributions=[
            {
                "wallet": c.wallet,
                "data_hash": d.data_hash,
                "excluded": d.excluded,
                **({"terms_hash": c.terms_hash} if c.terms_hash is not None else {}),
            }
            for c, d in zip(spec.contributions, inputs.contributions, strict=True)
        ],
        rows=prepared.integration.rows,
        attribution=weighed.attribution if weighed else None,
        near_duplicates=prepared.integration.near_duplicates,
        commitments=commitments,
    )


def weight_commitments(baseline: Baseline, trained: Trained | None) -> dict[str, str]:
    """The weight commitments (``attestation.commitment``) of the registered baseline's artifact and of
    the candidate's: the lineage the DeltaVerifier contract keeps (the baseline must be its head)."""
    from hokusai.attestation.commitment import model_commitment

    found = {"baseline": model_commitment(baseline.model.directory)}
    if trained is not None:
        found["candidate"] = model_commitment(trained.candidate.directory)
    return found


def attest(
    run_id: str,
    inputs: Inputs,
    baseline: Baseline,
    prepared: Prepared,
    trained: Trained,
    compared: Compared,
    weighed: Weighed,
    report: dict[str, Any],
    spec: PipelineSpec,
    sealer: Sealer,
    environment: str,
) -> dict[str, Any]:
    """The sealed attestation document (``sealer`` signs it: here, or the platform for a run worker).

    Its weights are the report's (``report.payable_bps``: 0 for everyone unless the run is accepted); a
    contribution excluded by validation is listed with ``validation_status`` ``invalid``, 0 rows, weight 0
    (its reason is in the report, which the hash tree commits to)."""
    estimator = trained.candidate.estimator
    base_rows, contributed = len(prepared.base), prepared.contributed_rows
    baseline_entry = ModelEntry(
        model_id=baseline.source.reference,
        model_type=model_type(trained.baseline.estimator),
        model_hash=trained.baseline.model_hash,
        training_config_hash=training_config_hash(trained.baseline.estimator),
        training_metadata={"base_samples": base_rows, "data_manifest": inputs.train.manifest},
        mlflow_run_id=baseline.source.run_id,
    )
    candidate_entry = ModelEntry(
        model_id=f"candidate-{run_id}",
        model_type=model_type(estimator),
        model_hash=trained.candidate.model_hash,
        training_config_hash=training_config_hash(estimator),
        training_metadata={
            "base_samples": base_rows,
            "contributed_samples": contributed,
            "contribution_ratio": contributed / (base_rows + contributed),
        },
    )
    contributors = [
        ContributorEntry(
            wallet=str(c.wallet),
            data_hash=d.data_hash,
            data_manifest=d.manifest,
            weight_bps=entry["weight_bps"],
            rows_used=len(rows),
            valid=d.excluded is None,
        )
        for c, d, entry, rows in zip(
            spec.contributions,
            inputs.contributions,
            report["contributions"],
            prepared.contributions,
            strict=True,
        )
    ]
    document = build_document(
        run_id=run_id,
        environment=environment,
        timestamp=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        comparisons=compared.comparisons,
        decision=compared.decision,
        metric_weights=compared.weights,
        benchmark=BenchmarkEntry(
            name=str(inputs.benchmark.manifest.get("source_path", "benchmark")),
            rows=len(prepared.benchmark),
            dataset_hash=inputs.benchmark.data_hash,
            features=prepared.features,
        ),
        baseline=baseline_entry,
        candidate=candidate_entry,
        contributors=contributors,
        evaluation_seconds=compared.seconds,
    )
    return sealer(document, report)
