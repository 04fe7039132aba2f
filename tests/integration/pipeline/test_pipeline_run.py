"""A pipeline run against a real MLflow server: decision, attestation, MLflow run, registry lineage."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.datasets import make_classification

from hokusai.attestation.verify import verify_attestation
from hokusai.config import Settings
from hokusai.pipeline import run_pipeline
from hokusai.pipeline.spec import STEPS, ProgressEvent
from hokusai.tracking.models import save_model_dir
from tests.integration.pipeline.conftest import WALLET_A, WALLET_B, Case, baseline_estimator, valued_bps


def test_contribution_with_real_signal_is_accepted_registered_and_recorded(
    case: Case, server_settings: Settings, registered_baseline: str
) -> None:
    events: list[ProgressEvent] = []
    result = run_pipeline(case.spec(baseline=registered_baseline), server_settings, progress=events.append)

    assert result.outcome == "accepted"
    assert result.primary_metric == "auroc"
    assert result.delta_pp >= 1.0 and result.ci_low_pp is not None and result.ci_low_pp > 0
    assert [c.weight_bps for c in result.contributors] == [10_000]
    assert [e.step for e in events if e.state == "finished"] == list(STEPS)

    name = registered_baseline.split("/")[1]
    assert (result.registered_model_name, result.registered_model_version) == (name, "2")
    client = MlflowClient(server_settings.tracking_uri)
    version = client.get_model_version(name, "2")
    assert version.run_id == result.mlflow_run_id
    assert version.tags["hokusai.baseline_version"] == "1"
    assert version.tags["hokusai.delta_one_outcome"] == "accepted"
    assert version.tags["hokusai.contributors"] == WALLET_A
    assert version.tags["hokusai.contribution_hashes"] == result.contributors[0].data_hash
    assert version.tags["hokusai.attestation_hash"] == result.attestation["attestation"]["hash_tree_root"]

    run = client.get_run(result.mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["seed"] == "42"
    assert run.data.params["contributor_1"] == WALLET_A
    assert run.data.metrics["delta_auroc"] > 0.01
    assert run.data.metrics["delta_auroc_ci_low"] > 0
    assert run.data.metrics["candidate_auroc"] - run.data.metrics["baseline_auroc"] > 0.01
    artifacts = {a.path for a in client.list_artifacts(result.mlflow_run_id)}
    assert {"attestation.json", "evaluation_report.json", "plots", "model"} <= artifacts
    plots = {a.path for a in client.list_artifacts(result.mlflow_run_id, "plots")}
    assert plots == {"plots/roc_curves.png", "plots/metric_deltas.png", "plots/confusion_matrices.png"}

    document = json.loads(result.attestation_path.read_text())
    assert document["models"]["new"]["model_id"] == f"models:/{name}/2"
    assert document["models"]["new"]["mlflow_run_id"] == result.mlflow_run_id
    report = json.loads(result.report_path.read_text())
    verdict = verify_attestation(
        document,
        report=report,
        data_paths=[case.benchmark, case.good, case.train],
        signer=document["attestation"]["verification_key"],
    )
    assert verdict.valid, verdict.failed


def test_label_flipped_copy_is_not_accepted(case: Case, server_settings: Settings) -> None:
    result = run_pipeline(case.spec((case.flipped, WALLET_A), register=False), server_settings)
    assert result.outcome == "delta_below_threshold"
    assert result.delta_pp < 0
    assert result.attestation is not None  # a rejection is attested too
    assert "candidate not registered (--no-register)" in result.notes


def test_two_contributors_are_weighted_by_their_exact_shapley_values(
    case: Case, server_settings: Settings
) -> None:
    spec = case.spec((case.good, WALLET_A), (case.flipped, WALLET_B), register=False)
    result = run_pipeline(spec, server_settings)
    assert valued_bps(result.report) == [10_000, 0]  # the flipped copy only hurts: its value is negative
    signed = [10_000, 0] if result.accepted else [0, 0]  # only an accepted run pays
    assert [c.weight_bps for c in result.contributors] == signed
    valuation = result.report["valuation"]
    assert (
        valuation["method"] == "exact_shapley" and result.report["weights_method"] == "positive_value_share"
    )
    # {}, {good}, {flipped} (both = the candidate) + one probe with another seed: the model ignores its
    # seed, so no more noise retrains are spent
    assert valuation["deterministic"] is True and valuation["retrains"] == 3 + 1
    assert result.contributors[1].value_pp is not None and result.contributors[1].value_pp < 0
    assert valuation["efficiency"]["gap_pp"] == pytest.approx(0.0, abs=1e-9)  # exact Shapley is efficient
    assert [c["weight"] * 10_000 for c in result.attestation["contributors"]] == signed


def test_two_helpful_contributors_share_the_weight(case: Case, server_settings: Settings) -> None:
    spec = case.spec((case.good, WALLET_A), (case.other, WALLET_B), register=False)
    weights = [c.weight_bps for c in run_pipeline(spec, server_settings).contributors]
    assert sum(weights) == 10_000
    assert all(w > 0 for w in weights)


def test_a_contribution_of_known_rows_gives_no_contribution_rows(
    case: Case, server_settings: Settings
) -> None:
    known = case.write("known.csv", case.frames["base"])
    result = run_pipeline(case.spec((known, WALLET_A)), server_settings)
    assert result.outcome == "no_contribution_rows"
    assert result.attestation is None and result.attestation_path is None
    assert result.report["contributions"][0]["rows"]["duplicate_of_base"] == len(case.frames["base"])
    run = MlflowClient(server_settings.tracking_uri).get_run(result.mlflow_run_id)
    assert run.data.tags["hokusai.outcome"] == "no_contribution_rows"
    assert not (case.root / "out" / "attestation.json").exists()


def test_an_empty_contribution_gives_no_contribution_rows(case: Case, server_settings: Settings) -> None:
    empty = case.write("empty.csv", case.frames["base"].iloc[:0])
    result = run_pipeline(case.spec((empty, WALLET_A), register=False), server_settings)
    assert result.outcome == "no_contribution_rows"
    assert result.contributors[0].rows_submitted == 0


def test_a_sampled_run_trains_both_models_on_the_sample_and_registers_nothing(
    case: Case, server_settings: Settings, registered_baseline: str
) -> None:
    result = run_pipeline(case.spec(baseline=registered_baseline, sample=300), server_settings)
    samples = result.report["samples"]
    assert samples["sampled"] and samples["training_rows"] <= 301 and samples["benchmark_rows"] == 300
    assert result.registered_model_version is None
    assert "a sampled run is an estimate" in result.notes[0]
    assert (case.root / "out" / "baseline_model" / "model.skops").is_file()  # the refit that was compared


def test_a_multiclass_task_is_decided_on_accuracy_with_macro_averages(
    case: Case, embedded_settings: Settings
) -> None:
    x, y = make_classification(
        n_samples=1600, n_features=8, n_informative=5, n_classes=3, class_sep=0.8, random_state=4
    )
    frame = pd.DataFrame(x, columns=[f"v{i}" for i in range(8)]).round(6).assign(kind=y)
    base = frame.iloc[:60]
    save_model_dir(baseline_estimator().fit(base.drop(columns="kind"), base["kind"]), case.root / "model3")
    paths = {name: case.write(f"{name}.csv", part) for name, part in
             (("base3", base), ("bench3", frame.iloc[60:700]), ("more3", frame.iloc[700:]))}  # fmt: skip
    spec = case.spec(
        (paths["more3"], WALLET_A), baseline=str(case.root / "model3"), train=paths["base3"],
        benchmark=paths["bench3"], target="kind", register=False,
    )  # fmt: skip
    result = run_pipeline(spec, embedded_settings)
    assert result.primary_metric == "accuracy"
    assert result.report["averaging"].startswith("macro")
    assert result.report["classes"] == ["0", "1", "2"]
    assert result.report["metrics"]["accuracy"]["interval_method"] == "paired_bootstrap"
    assert result.report["metrics"]["auroc"]["interval_method"] == "delong"
    assert result.outcome == "accepted"
