"""``run_pipeline(spec, settings, progress=...)``: the steps in order, with progress reporting.

Orchestration only: every step is a typed function in ``steps``, ``inputs`` or ``record``.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hokusai.attestation.document import Sealer, local_sealer
from hokusai.attestation.signing import bind_domain, load_signer, settings_domain
from hokusai.config import Settings
from hokusai.evaluation.regression import RegressionTask
from hokusai.pipeline import steps
from hokusai.pipeline.inputs import Inputs, load_inputs, verdict_cache
from hokusai.pipeline.record import PLOTS_DIR, Recorded, record
from hokusai.pipeline.spec import (
    STEPS,
    ContributorResult,
    MetricResult,
    PipelineResult,
    PipelineSpec,
    ProgressEvent,
    Step,
)
from hokusai.tracking.target import TrackingTarget, ensure_reachable, resolve_tracking

ProgressCallback = Callable[[ProgressEvent], None]


class Progress:
    """Turns ``with progress.step(name):`` into started/finished events for the callback."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback

    def _emit(
        self, step: Step, state: str, detail: str = "", done: int | None = None, planned: int | None = None
    ) -> None:
        if self.callback is not None:
            index = STEPS.index(step) + 1
            self.callback(ProgressEvent(step, index, len(STEPS), state, detail, done, planned))  # type: ignore[arg-type]

    @contextlib.contextmanager
    def step(self, step: Step, detail: str = "") -> Iterator[None]:
        self._emit(step, "started", detail)
        yield
        self._emit(step, "finished", detail)

    def skip(self, step: Step, detail: str) -> None:
        self._emit(step, "skipped", detail)

    def work(self, step: Step, unit: str) -> Callable[[int, int], None]:
        """A callback for ``done`` of ``planned`` units inside ``step``."""

        def report(done: int, planned: int) -> None:
            self._emit(step, "progress", f"{unit} {done} of {planned}", done, planned)

        return report


# What the steps after training import: MLflow (save the candidate, record), matplotlib (plots), eth-account
# (sign the attestation)
LATER_IMPORTS = (
    "mlflow.sklearn", "mlflow.models", "mlflow.pyfunc", "hokusai.evaluation.plots", "eth_account.messages",
)  # fmt: skip


def import_ahead(modules: tuple[str, ...] = LATER_IMPORTS) -> threading.Thread | None:
    """Import ``modules`` on a daemon thread while the candidate trains. A fit spends most of its time in
    native code that releases the GIL, so on a free second core a fresh process (``hokusai pipeline run``)
    pays the later steps' imports (~1 s) in CPU time, not in wall time. A worker started ahead has them
    already: no thread. A failed import is left to the step that needs the module (it raises there)."""
    missing = [m for m in modules if m not in sys.modules]
    if not missing:
        return None

    def load() -> None:
        for module in missing:
            try:
                importlib.import_module(module)
            except Exception:  # the step that imports it reports the error
                return

    thread = threading.Thread(target=load, name="hokusai-import-ahead", daemon=True)
    thread.start()
    return thread


def run_pipeline(
    spec: PipelineSpec,
    settings: Settings,
    progress: ProgressCallback | None = None,
    sealer: Sealer | None = None,
) -> PipelineResult:
    """Check MLflow is there, read the inputs through ``hokusai.data``, then evaluate. ``sealer`` signs the
    attestation (default: this installation's signer key)."""
    target = tracking_for(spec, settings)
    reporter = Progress(progress)
    with reporter.step("load inputs"):
        inputs = load_inputs(spec, cache=verdict_cache(settings.data_dir))
    return run_evaluation(inputs, spec, settings, reporter, target, sealer)


def tracking_for(spec: PipelineSpec, settings: Settings) -> TrackingTarget:
    """The tracking target, checked to answer when the run will use it (before any work is done)."""
    target = resolve_tracking(settings)
    if not spec.preview or spec.baseline.startswith(("models:/", "runs:/")):
        ensure_reachable(target)
    return target


def run_evaluation(
    inputs: Inputs,
    spec: PipelineSpec,
    settings: Settings,
    progress: Progress | None = None,
    target: TrackingTarget | None = None,
    sealer: Sealer | None = None,
) -> PipelineResult:
    """Evaluate loaded inputs: baseline, integration, training, scoring, decision, attestation, record."""
    target = target or tracking_for(spec, settings)
    runs_root = settings.data_dir / ("previews" if spec.preview else "runs")
    staging_parent = spec.out_dir.parent if spec.out_dir else runs_root
    staging_parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=staging_parent))
    try:
        return _evaluate(
            inputs, spec, settings, progress or Progress(None), staging, runs_root, target, sealer
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _evaluate(
    inputs: Inputs,
    spec: PipelineSpec,
    settings: Settings,
    progress: Progress,
    staging: Path,
    runs_root: Path,
    target: TrackingTarget,
    sealer: Sealer | None,
) -> PipelineResult:
    valuation = steps.valuation_config(spec, settings)  # a bad budget stops the run before any work
    near_tolerance = settings.near_duplicate_tolerance
    with progress.step("load baseline", spec.baseline):
        baseline = steps.load_baseline(spec, target, staging / "download")
        spec = steps.with_model_task(spec, baseline)
    with progress.step("integrate contributions"):
        prepared = steps.prepare_data(inputs, baseline, spec, near_tolerance)
    trained = compared = weighed = attestation = None
    primary = steps.primary_metric(spec, prepared.task)
    metric_weights = dict(spec.metric_weights or {primary: 1.0})
    tolerance = prepared.task.tolerance if isinstance(prepared.task, RegressionTask) else None
    options = steps.run_options(
        spec, primary, metric_weights, valuation, near_tolerance, steps.kind_of(prepared.task), tolerance
    )
    if prepared.contributed_rows == 0:
        for skipped in ("train candidate", "score models", "compare", "weigh contributors", "attest"):
            progress.skip(skipped, "no contribution rows")
        decision = steps.no_contribution_decision(prepared, spec)
        run_id = steps.run_id_for(inputs, spec, baseline.model.model_hash, options)
        commitments = steps.weight_commitments(baseline, None)
        report = steps.make_report(run_id, inputs, prepared, spec, decision, options, commitments=commitments)
    else:
        with progress.step("train candidate", f"{len(prepared.base) + prepared.contributed_rows} rows"):
            import_ahead()
            trained = steps.train_candidate(baseline, prepared, spec, staging)
        started = time.perf_counter()
        with progress.step("score models", f"{len(prepared.benchmark)} benchmark rows"):
            scored = steps.score_models(trained, prepared)
        with progress.step("compare"):
            compared = steps.compare(scored, prepared, spec, time.perf_counter() - started)
            decision = compared.decision
            steps.draw_plots(compared, prepared, spec, staging / PLOTS_DIR)
        with progress.step("weigh contributors", f"{len(spec.contributions)} contributions"):
            weighed = steps.weigh_contributors(
                baseline, prepared, compared, spec, valuation, progress.work("weigh contributors", "retrain")
            )
        run_id = steps.run_id_for(inputs, spec, trained.baseline.model_hash, options)
        report = steps.make_report(
            run_id, inputs, prepared, spec, decision, options, compared, weighed,
            steps.weight_commitments(baseline, trained),
        )  # fmt: skip
        if spec.preview:
            progress.skip("attest", "preview: an estimate is not attested")
        else:
            with progress.step("attest"):
                # the report records the signing domain (a hash tree leaf) before anyone signs it
                report = bind_domain(report, settings_domain(settings))
                attestation = steps.attest(
                    run_id, inputs, baseline, prepared, trained, compared, weighed, report, spec,
                    sealer or local_sealer(load_signer(settings)), settings.environment,
                )  # fmt: skip
    out_dir = spec.out_dir or runs_root / run_id
    with progress.step("record", str(out_dir)):
        recorded = record(
            run_id=run_id, target=None if spec.preview else target, staging=staging, out_dir=out_dir,
            spec=spec, inputs=inputs, baseline=baseline, report=report, attestation=attestation,
            trained=trained, compared=compared, weighed=weighed,
        )  # fmt: skip
    return _result(run_id, report, attestation, out_dir, recorded, None if spec.preview else target.uri)


def _result(
    run_id: str,
    report: dict[str, Any],
    attestation: dict[str, Any] | None,
    out_dir: Path,
    recorded: Recorded,
    tracking_uri: str | None,
) -> PipelineResult:
    """The caller's view of a finished run, read from its report and what was recorded."""
    outcome = report["outcome"]
    files = recorded.files
    attestation_path = next((f for f in files if f.name == "attestation.json"), None)
    return PipelineResult(
        pipeline_run_id=run_id,
        kind=report["kind"],
        outcome=outcome["reason"],
        accepted=outcome["accepted"],
        delta_one_score=outcome["delta_one_score"],
        primary_metric=outcome["primary_metric"],
        task=report["task"],
        gain=outcome["gain"],
        ci_low=outcome["ci_low"],
        ci_high=outcome["ci_high"],
        unit=outcome["unit"],
        delta_pp=outcome["delta_pp"],
        ci_low_pp=outcome["ci_low_pp"],
        ci_high_pp=outcome["ci_high_pp"],
        metric_deltas={
            name: MetricResult(
                m["baseline"],
                m["candidate"],
                m["gain"],
                m["ci_low"],
                m["ci_high"],
                m["unit"],
                m["delta_pp"],
                m["ci_low_pp"],
                m["ci_high_pp"],
            )
            for name, m in report["metrics"].items()
        },
        contributors=[
            ContributorResult(
                c["wallet"],
                c["data_hash"],
                c["rows"]["submitted"],
                c["rows"]["used"],
                c["weight_bps"],
                c["value_pp"],
                c["value_se_pp"],
                sum(v for k, v in c["rows"].items() if k.startswith("near_duplicate_of_")),
                c["method"],
                c["retrains"],
                c["paid"],
                c["reason"],
                (c["excluded"] or {}).get("message"),
            )
            for c in report["contributions"]
        ],
        report=report,
        out_dir=out_dir,
        report_path=next((f for f in files if f.name == "evaluation_report.json"), None),
        attestation=attestation,
        attestation_path=attestation_path,
        plots=sorted((out_dir / PLOTS_DIR).glob("*.png")) if (out_dir / PLOTS_DIR).is_dir() else [],
        files=files,
        mlflow_run_id=recorded.mlflow_run_id,
        tracking_uri=tracking_uri,
        registered_model_name=recorded.registered_name,
        registered_model_version=recorded.registered_version,
        notes=recorded.notes,
    )
