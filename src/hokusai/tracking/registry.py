"""The model registry as the API sees it: baselines registered on the platform's MLflow server.

A baseline is logged into a run of its own and registered with the tags the pipeline looks for
(``hokusai.role=baseline``, ``hokusai.model_hash``), so later candidates become new versions of the
same registered model and the lineage shows them all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hokusai.config import Settings
from hokusai.errors import NotFound
from hokusai.tracking.runs import MODEL_HASH_TAG, ROLE_TAG, PipelineRun
from hokusai.tracking.target import TrackingTarget, client, experiment_id, mlflow_errors

BASELINE_ARTIFACT = "baseline"


def server_target(settings: Settings) -> TrackingTarget:
    """The platform's MLflow server (the API never writes to the backend store directly)."""
    return TrackingTarget(
        uri=str(settings.mlflow_url),
        artifact_root=str(settings.artifact_root),
        s3_endpoint_url=settings.s3_endpoint_url,
    )


def model_experiment(name: str) -> str:
    """The MLflow experiment of a platform model: its baseline and every evaluation of it."""
    return f"hokusai/{name}"


def registered_model_exists(target: TrackingTarget, name: str) -> bool:
    """Whether the registry already has a registered model called ``name``."""
    from mlflow.exceptions import MlflowException

    try:
        with mlflow_errors(target, f"registered model {name}"):
            client(target).get_registered_model(name)
        return True
    except NotFound:
        return False
    except MlflowException:
        return False


def register_baseline(
    target: TrackingTarget, name: str, directory: Path, model_hash: str, source: str
) -> tuple[str, str]:
    """Log the model directory in a run of the model's experiment and register it as a version of
    ``name``; returns (version, experiment id)."""
    tags = {ROLE_TAG: "baseline", MODEL_HASH_TAG: model_hash, "hokusai.source": source}
    experiment = model_experiment(name)
    with mlflow_errors(target, f"experiment {experiment}"):
        experiment_id_ = experiment_id(target, experiment)
    with PipelineRun(target, run_name=f"baseline {name}", tags=tags, experiment=experiment) as run:
        run.log_artifacts(directory, BASELINE_ARTIFACT)
        version = run.register(name, BASELINE_ARTIFACT, tags, "baseline registered through the Hokusai API")
    return version, experiment_id_


def withdraw_candidate(
    target: TrackingTarget, name: str, version: str, mlflow_run_id: str | None, reason: str
) -> None:
    """Delete a candidate version whose run did not take the model's head (the platform registers before it
    knows: MLflow is outside its transaction), and tag the run's outcome with ``reason``."""
    with mlflow_errors(target, f"registered model {name} version {version}"):
        mlflow = client(target)
        mlflow.delete_model_version(name, version)
        if mlflow_run_id:
            mlflow.set_tag(mlflow_run_id, "hokusai.outcome", reason)


def registered_versions(target: TrackingTarget, name: str) -> list[dict[str, Any]]:
    """Every version of ``name``: number, creation time and its ``hokusai.*`` tags."""
    with mlflow_errors(target, f"registered model {name}"):
        versions = client(target).search_model_versions(f"name = '{name}'")
    return [
        {
            "version": str(v.version),
            "created_at": datetime.fromtimestamp(v.creation_timestamp / 1000, UTC).isoformat(),
            "run_id": v.run_id,
            "tags": {k: val for k, val in (v.tags or {}).items() if k.startswith("hokusai.")},
        }
        for v in versions
    ]


def run_experiment_id(target: TrackingTarget, run_id: str) -> str | None:
    """The experiment a run belongs to, or None when there is no such run."""
    try:
        with mlflow_errors(target, f"run {run_id}"):
            return str(client(target).get_run(run_id).info.experiment_id)
    except NotFound:
        return None
