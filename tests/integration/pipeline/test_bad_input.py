"""Bad input stops a run with one clear error, and a failed run leaves no attestation behind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LinearRegression

from hokusai.config import Settings
from hokusai.errors import InvalidData, InvalidInput, NotFound, ServiceUnavailable
from hokusai.pipeline import run_pipeline
from hokusai.pipeline.spec import ProgressEvent
from hokusai.tracking.models import save_model_dir
from tests.integration.pipeline.conftest import FEATURES, TARGET, WALLET_A, Case
from tests.support.mlflow import mlflow_settings
from tests.support.net import free_port


def test_a_contribution_with_other_columns_fails_validation(case: Case, embedded_settings: Settings) -> None:
    other = case.write("other-columns.csv", case.frames["good"].rename(columns={"f3": "colour"}))
    with pytest.raises(InvalidData, match=r"contribution 1 \(other-columns.csv\) fails validation") as caught:
        run_pipeline(case.spec((other, WALLET_A)), embedded_settings)
    assert "f3" in caught.value.message or "colour" in caught.value.message
    assert not (case.root / "out").exists()


def test_a_missing_model_uri_is_not_found(case: Case, server_settings: Settings) -> None:
    with pytest.raises(NotFound, match="baseline models:/no-such-model/1"):
        run_pipeline(case.spec(baseline="models:/no-such-model/1"), server_settings)


def test_a_missing_model_directory_is_not_found(case: Case, embedded_settings: Settings) -> None:
    with pytest.raises(NotFound, match="neither an MLflow model directory nor"):
        run_pipeline(case.spec(baseline=str(case.root / "nowhere")), embedded_settings)


def test_a_regressor_baseline_is_evaluated_as_regression_without_being_told(
    case: Case, embedded_settings: Settings
) -> None:
    base = case.frames["base"]
    save_model_dir(LinearRegression().fit(base[FEATURES], base[TARGET]), case.root / "regressor")
    regressor = str(case.root / "regressor")
    result = run_pipeline(
        case.spec(baseline=regressor, primary_metric="rmse", register=False), embedded_settings
    )
    assert result.task == "regression" and result.primary_metric == "rmse" and result.unit == "rmse"
    said = "LinearRegression, which is not a classifier: evaluate a regressor with --task regression"
    with pytest.raises(InvalidInput, match=said) as caught:
        run_pipeline(case.spec(baseline=regressor, task="binary"), embedded_settings)
    assert caught.value.code == "not_a_classifier"


def test_a_classifier_with_a_regression_metric_is_refused_naming_the_task(
    case: Case, embedded_settings: Settings
) -> None:
    said = (
        r"a classifier, but rmse is a regression metric: choose another --primary-metric; "
        r"a regression metric is for a regressor \(--task regression\)"
    )
    with pytest.raises(InvalidInput, match=said) as caught:
        run_pipeline(case.spec(primary_metric="rmse"), embedded_settings)
    assert caught.value.code == "task_mismatch"


def test_a_benchmark_without_the_target_column_is_a_clear_error(
    case: Case, embedded_settings: Settings
) -> None:
    unlabeled = case.write("unlabeled.csv", case.frames["benchmark"].drop(columns=TARGET))
    with pytest.raises(InvalidData, match=r"benchmark fails validation: .*label"):
        run_pipeline(case.spec(benchmark=unlabeled), embedded_settings)


def test_benchmark_rows_in_the_training_data_are_refused_as_leakage(
    case: Case, embedded_settings: Settings
) -> None:
    leaky = case.write("leaky-base.csv", pd.concat([case.frames["base"], case.frames["benchmark"].iloc[:5]]))
    with pytest.raises(InvalidData, match="5 rows of the base training data are also in the benchmark"):
        run_pipeline(case.spec(train=leaky), embedded_settings)


def test_a_missing_data_file_is_not_found(case: Case, embedded_settings: Settings) -> None:
    with pytest.raises(NotFound, match=r"contribution 1 \(gone.csv\): no such file"):
        run_pipeline(case.spec((case.root / "gone.csv", WALLET_A)), embedded_settings)


def test_an_unreachable_tracking_server_stops_the_run_before_any_work(case: Case, tmp_path: Path) -> None:
    unreachable = mlflow_settings(tmp_path / "state", tracking_uri=f"http://127.0.0.1:{free_port()}")
    events: list[ProgressEvent] = []
    with pytest.raises(ServiceUnavailable, match=r"MLflow at http://127.0.0.1:\d+ is not reachable"):
        run_pipeline(case.spec(), unreachable, progress=events.append)
    assert events == []  # not even the data was read
    assert not (case.root / "out").exists()


def test_a_run_whose_recording_fails_writes_no_attestation(case: Case, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("the artifact store cannot be created below a file")
    settings = mlflow_settings(tmp_path / "state", artifact_root=str(blocker / "artifacts"))
    events: list[ProgressEvent] = []
    with pytest.raises(ServiceUnavailable, match="failed"):
        run_pipeline(case.spec(), settings, progress=events.append)
    assert ("attest", "finished") in [(e.step, e.state) for e in events]  # the document existed in memory...
    assert not (case.root / "out").exists()  # ...but nothing was published
    assert not list(case.root.glob(".staging-*"))  # and the staging folder is gone
    client = MlflowClient(settings.mlflow_backend_store_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("hokusai-evaluations").experiment_id])
    assert run.info.status == "FAILED"
