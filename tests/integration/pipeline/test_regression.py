"""A regressor evaluated locally: RMSE as the primary metric (lower is better), paired intervals, the
paired t and Wilcoxon tests, the plots that fit a regression, and a benchmark spec that pins its data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hokusai.config import Settings
from hokusai.data import data_hash, infer_schema
from hokusai.errors import InvalidData, InvalidInput
from hokusai.pipeline.benchmark_spec import BenchmarkSpec
from hokusai.pipeline.run import run_pipeline
from hokusai.pipeline.spec import Contribution, PipelineSpec
from tests.support.regression import RegressionFiles, regression_files

WALLET = "0x" + "11" * 20


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> RegressionFiles:
    return regression_files(tmp_path_factory.mktemp("regression"))


def _spec(files: RegressionFiles, out: Path, **options: object) -> PipelineSpec:
    return PipelineSpec(
        baseline=str(files.model_dir), train=files.base, benchmark=files.benchmark,
        contributions=(Contribution(files.contribution, WALLET),), target=files.target, register=False,
        out_dir=out, **options,  # type: ignore[arg-type]
    )  # fmt: skip


def _contract(files: RegressionFiles, **fields: object) -> BenchmarkSpec:
    schema = infer_schema(files.base, label=files.target).model_copy(update={"allow_extra_columns": False})
    return BenchmarkSpec.model_validate({
        "task": "regression", "target_column": files.target, "benchmark_sha256": data_hash(files.benchmark),
        "contribution_schema": schema, "threshold": 0.1, **fields,
    })  # fmt: skip


def test_a_regressor_is_judged_on_rmse_with_paired_tests_and_regression_plots(
    files: RegressionFiles, tmp_path: Path, embedded_settings: Settings
) -> None:
    result = run_pipeline(_spec(files, tmp_path / "out", task="regression", threshold=0.1), embedded_settings)
    assert result.task == "regression" and result.primary_metric == "rmse" and result.unit == "rmse"
    rmse = result.metric_deltas["rmse"]
    assert rmse.candidate < rmse.baseline and rmse.gain == pytest.approx(rmse.baseline - rmse.candidate)
    assert rmse.ci_low is not None and 0 < rmse.ci_low < rmse.gain < rmse.ci_high  # type: ignore[operator]
    assert result.accepted and result.delta_pp is None
    assert set(result.metric_deltas) == {"rmse", "mae", "r2", "accuracy"}
    assert result.metric_deltas["accuracy"].unit == "pp"  # share of rows within the tolerance
    tests = result.report["paired_tests"]["squared_error"]
    assert tests["mean_difference"] < 0 and tests["paired_t_p"] < 0.05 and tests["wilcoxon_p"] < 0.05
    assert result.report["metric_family"] == "continuous"
    assert {p.name for p in result.plots} >= {"residuals.png", "predicted_vs_actual.png", "metric_deltas.png"}


def test_a_spec_pins_the_benchmark_and_decides_by_its_rules(
    files: RegressionFiles, tmp_path: Path, embedded_settings: Settings
) -> None:
    contract = _contract(files, guardrails=[{"metric": "r2", "max_drop": 0.0}])
    result = run_pipeline(
        _spec(files, tmp_path / "a", benchmark_spec=contract, spec_id="s1", spec_version=3), embedded_settings
    )
    assert result.accepted
    pinned = {"id": "s1", "version": 3, "hash": contract.canonical_hash()}
    assert result.report["options"]["benchmark_spec"] == pinned
    other = tmp_path / "other.csv"
    other.write_bytes(files.benchmark.read_bytes() + b"\n")
    elsewhere = dataclasses.replace(_spec(files, tmp_path / "b", benchmark_spec=contract), benchmark=other)
    with pytest.raises(InvalidData) as refused:
        run_pipeline(elsewhere, embedded_settings)
    assert refused.value.code == "benchmark_mismatch"


def test_a_classifier_spec_refuses_a_regression_metric(files: RegressionFiles) -> None:
    with pytest.raises(InvalidInput, match="rmse"):
        _contract(files, task="binary", primary_metric="rmse")
    with pytest.raises(InvalidInput, match="rmse"):
        PipelineSpec(
            baseline="x", train=files.base, benchmark=files.benchmark,
            contributions=(Contribution(files.contribution, WALLET),), target=files.target,
            task="binary", primary_metric="rmse",
        )  # fmt: skip
