"""The last step: one MLflow run with params, metrics and artifacts, the candidate registered with
lineage tags, and the files moved from the staging folder into the output folder.

Everything is prepared in a staging folder first; files reach the output folder only after MLflow
accepted the run, each by an atomic rename, attestation last. A failed run leaves no attestation.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hokusai.files import atomic_write_json
from hokusai.pipeline.inputs import Inputs
from hokusai.pipeline.spec import PipelineSpec
from hokusai.pipeline.steps import Baseline, Compared, Trained, Weighed
from hokusai.tracking.runs import MODEL_HASH_TAG, ROLE_TAG, PipelineRun, version_with_hash
from hokusai.tracking.target import TrackingTarget

ATTESTATION_FILE = "attestation.json"
REPORT_FILE = "evaluation_report.json"
PLOTS_DIR = "plots"
MODEL_DIR = "model"
BASELINE_DIR = "baseline_model"
PUBLISHED = (MODEL_DIR, BASELINE_DIR, PLOTS_DIR, REPORT_FILE, ATTESTATION_FILE)  # attestation last


@dataclass
class Recorded:
    mlflow_run_id: str | None = None
    registered_name: str | None = None
    registered_version: str | None = None
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def mlflow_values(
    run_id: str,
    spec: PipelineSpec,
    inputs: Inputs,
    report: dict[str, Any],
    trained: Trained | None,
    compared: Compared | None,
    weighed: Weighed | None,
) -> tuple[dict[str, Any], dict[str, float], dict[str, str]]:
    """Params, metrics and tags of the MLflow run (metric deltas in metric units, score in pp)."""
    options, outcome = report["options"], report["outcome"]
    wallets = [str(c.wallet) for c in spec.contributions]
    hashes = [c.data_hash for c in inputs.contributions]
    params: dict[str, Any] = {
        "pipeline_run_id": run_id,
        "baseline": spec.baseline,
        "train_hash": inputs.train.data_hash,
        "benchmark_hash": inputs.benchmark.data_hash,
        "contributors": ",".join(wallets),
        "contribution_hashes": ",".join(hashes),
        **{k: json.dumps(v) if isinstance(v, dict) else v for k, v in options.items()},
    }
    for i, (wallet, digest) in enumerate(zip(wallets, hashes, strict=True), 1):
        params[f"contributor_{i}"], params[f"contribution_{i}_hash"] = wallet, digest
    samples = report["samples"]
    metrics: dict[str, float] = {
        "delta_one_score": outcome["delta_one_score"],
        "accepted": float(outcome["accepted"]),
        "benchmark_rows": samples["benchmark_rows"],
        "training_rows": samples["training_rows"],
        "contributed_rows": samples["contributed_rows"],
    }
    if trained is not None:
        params["baseline_model_hash"] = trained.baseline.model_hash
        params["candidate_model_hash"] = trained.candidate.model_hash
    for name, c in (compared.comparisons if compared else {}).items():
        metrics[f"baseline_{name}"], metrics[f"candidate_{name}"] = c.baseline, c.candidate
        metrics[f"delta_{name}"] = c.delta
        if c.interval is not None:
            metrics[f"delta_{name}_ci_low"], metrics[f"delta_{name}_ci_high"] = (
                c.interval.low,
                c.interval.high,
            )
    for i, contribution in enumerate(report["contributions"] if weighed else [], 1):
        metrics[f"weight_bps_{i}"] = contribution["weight_bps"]  # what is signed: 0 unless accepted
    if weighed is not None:
        attribution = weighed.attribution
        for i, (value, error) in enumerate(zip(attribution.values_pp, attribution.stderr_pp, strict=True), 1):
            if value is not None:
                metrics[f"value_pp_{i}"] = value
            if error is not None:
                metrics[f"value_se_pp_{i}"] = error
        metrics["valuation_retrains"] = attribution.retrains
        if attribution.noise_floor_pp is not None:
            metrics["noise_floor_pp"] = attribution.noise_floor_pp
    tags = {
        "hokusai.pipeline_run_id": run_id,
        "hokusai.outcome": outcome["reason"],
        "hokusai.kind": options["kind"],
    }
    return params, metrics, tags


def lineage_tags(
    run_id: str,
    baseline_version: str,
    inputs: Inputs,
    spec: PipelineSpec,
    trained: Trained,
    report: dict[str, Any],
    attestation: dict[str, Any],
) -> dict[str, str]:
    """Tags on the candidate's model version that tie it to its baseline, data and attestation."""
    outcome = report["outcome"]
    return {
        ROLE_TAG: "candidate",
        MODEL_HASH_TAG: trained.candidate.model_hash,
        "hokusai.baseline_version": baseline_version,
        "hokusai.baseline_model_hash": trained.baseline.model_hash,
        "hokusai.contribution_hashes": ",".join(c.data_hash for c in inputs.contributions),
        "hokusai.contributors": ",".join(str(c.wallet) for c in spec.contributions),
        "hokusai.delta_one_outcome": outcome["reason"],
        "hokusai.delta_one_score": repr(outcome["delta_one_score"]),
        "hokusai.primary_metric": outcome["primary_metric"],
        "hokusai.pipeline_run_id": run_id,
        "hokusai.attestation_id": run_id,
        "hokusai.attestation_hash": attestation["attestation"]["hash_tree_root"],
    }


def _baseline_version(run: PipelineRun, target: TrackingTarget, name: str, baseline: Baseline) -> str:
    """The baseline's version under ``name``, registering it first when it is not there yet."""
    if baseline.source.registered_name == name and baseline.source.version:
        return baseline.source.version
    found = version_with_hash(target, name, baseline.model.model_hash)
    if found:
        return found
    run.log_artifacts(baseline.model.directory, BASELINE_DIR)
    tags = {
        ROLE_TAG: "baseline",
        MODEL_HASH_TAG: baseline.model.model_hash,
        "hokusai.source": baseline.source.reference,
    }
    return run.register(name, BASELINE_DIR, tags, "baseline registered by the Hokusai pipeline")


def publish(staging: Path, out_dir: Path) -> list[Path]:
    """Move the staged outputs into ``out_dir`` (replacing an earlier run's), attestation last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PUBLISHED:
        source = staging / name
        if not source.exists():
            continue
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(source, target)
        written.append(target)
    return written


def record(
    *,
    run_id: str,
    target: TrackingTarget | None,
    staging: Path,
    out_dir: Path,
    spec: PipelineSpec,
    inputs: Inputs,
    baseline: Baseline,
    report: dict[str, Any],
    attestation: dict[str, Any] | None,
    trained: Trained | None,
    compared: Compared | None,
    weighed: Weighed | None,
) -> Recorded:
    """Record the run in MLflow (unless ``target`` is None: a preview), then publish the files."""
    recorded = Recorded()
    if target is None:
        atomic_write_json(staging / REPORT_FILE, report)
        recorded.files = publish(staging, out_dir)
        return recorded
    params, metrics, tags = mlflow_values(run_id, spec, inputs, report, trained, compared, weighed)
    with PipelineRun(target, run_name=run_id, tags=tags, experiment=spec.experiment) as run:
        recorded.mlflow_run_id = run.run_id
        run.log_values(params, metrics, {})
        for folder in (MODEL_DIR, PLOTS_DIR):
            if (staging / folder).is_dir():
                run.log_artifacts(staging / folder, folder)
        name = spec.model_name or baseline.source.registered_name
        if attestation is not None and trained is not None:
            attestation["models"]["baseline"]["mlflow_run_id"] = baseline.source.run_id
            attestation["models"]["new"]["mlflow_run_id"] = run.run_id
            if not spec.register:
                recorded.notes.append("candidate not registered (--no-register)")
            elif spec.sample is not None:
                recorded.notes.append("candidate not registered: a sampled run is an estimate")
            elif name is None:
                recorded.notes.append(
                    "candidate not registered: the baseline is not a registered model (--model-name)"
                )
            else:
                baseline_version = _baseline_version(run, target, name, baseline)
                lineage = lineage_tags(run_id, baseline_version, inputs, spec, trained, report, attestation)
                version = run.register(name, MODEL_DIR, lineage, f"candidate of pipeline run {run_id}")
                attestation["models"]["new"]["model_id"] = f"models:/{name}/{version}"
                recorded.registered_name, recorded.registered_version = name, version
            atomic_write_json(staging / ATTESTATION_FILE, attestation)
            run.log_artifacts(staging / ATTESTATION_FILE)
        atomic_write_json(staging / REPORT_FILE, report)
        run.log_artifacts(staging / REPORT_FILE)
    recorded.files = publish(staging, out_dir)
    return recorded
