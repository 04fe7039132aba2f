"""Where the pipeline records: the setting, else the store itself (never a probed server); one layout."""

from __future__ import annotations

from pathlib import Path

import mlflow.sklearn
from mlflow.tracking import MlflowClient

from hokusai.config import Settings
from hokusai.pipeline import run_pipeline
from hokusai.tracking.target import resolve_tracking, storage_uri
from tests.integration.pipeline.conftest import Case
from tests.support.mlflow import MlflowServer, mlflow_settings


def test_the_tracking_uri_setting_wins(tmp_path: Path) -> None:
    settings = mlflow_settings(tmp_path, tracking_uri="http://mlflow.internal:5000")
    assert resolve_tracking(settings).uri == "http://mlflow.internal:5000"


def test_a_server_answering_at_the_mlflow_url_is_not_used(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    settings = mlflow_settings(tmp_path, mlflow_url=mlflow_server.url)
    target = resolve_tracking(settings)
    assert target.embedded and target.uri == settings.mlflow_backend_store_uri


def test_without_a_server_the_backend_store_is_used_directly(settings: Settings) -> None:
    target = resolve_tracking(settings)
    assert target.embedded
    assert target.uri == settings.mlflow_backend_store_uri
    assert storage_uri(target, "mlflow-artifacts:/hokusai-evaluations/abc/artifacts") == (
        f"{settings.artifact_root}/hokusai-evaluations/abc/artifacts"
    )


def test_a_run_recorded_without_a_server_is_complete_when_a_server_serves_the_store(
    case: Case, embedded_settings: Settings
) -> None:
    result = run_pipeline(case.spec(model_name="served-later"), embedded_settings)
    assert result.tracking_uri == embedded_settings.mlflow_backend_store_uri
    server = MlflowServer(embedded_settings).start()
    try:
        client = MlflowClient(server.url)
        artifacts = {a.path for a in client.list_artifacts(result.mlflow_run_id)}
        assert {"attestation.json", "evaluation_report.json", "plots", "model"} <= artifacts
        mlflow.set_tracking_uri(server.url)
        try:
            model = mlflow.sklearn.load_model(f"models:/served-later/{result.registered_model_version}")
        finally:
            mlflow.set_tracking_uri(None)
        assert type(model).__name__ == "Pipeline"
    finally:
        server.stop()
