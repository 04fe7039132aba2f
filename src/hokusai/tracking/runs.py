"""One MLflow run per pipeline run, and the model registry with lineage tags.

``PipelineRun`` is a context manager: the run is created on entry and ends FINISHED, or FAILED
when the block raises. Candidates are registered as new versions of the baseline's registered
model; a baseline that is not yet in the registry is registered first (tag ``hokusai.role=baseline``),
found again later by its model hash, so the registered model shows the whole lineage.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from hokusai.tracking.target import (
    EXPERIMENT,
    TrackingTarget,
    artifact_repository,
    client,
    experiment_id,
    mlflow_errors,
)

MAX_PARAM_LENGTH = 6000
ROLE_TAG = "hokusai.role"
MODEL_HASH_TAG = "hokusai.model_hash"


class PipelineRun:
    """A live MLflow run: log values and artifacts, register models."""

    def __init__(
        self, target: TrackingTarget, run_name: str, tags: Mapping[str, str], experiment: str | None = None
    ) -> None:
        self.target = target
        self.experiment = experiment or EXPERIMENT
        self.run_name = run_name
        self.tags = dict(tags)
        self.client = client(target)
        self.run_id = ""
        self.artifact_uri = ""

    def __enter__(self) -> PipelineRun:
        with mlflow_errors(self.target):
            run = self.client.create_run(
                experiment_id(self.target, self.experiment), run_name=self.run_name, tags=self.tags
            )
        self.run_id, self.artifact_uri = run.info.run_id, run.info.artifact_uri
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        status = "FINISHED" if kind is None else "FAILED"
        try:
            with mlflow_errors(self.target):
                self.client.set_terminated(self.run_id, status)
        except Exception:
            if kind is None:
                raise  # otherwise the original error matters more

    def log_values(
        self, params: Mapping[str, Any], metrics: Mapping[str, float], tags: Mapping[str, str]
    ) -> None:
        """Params, metrics and tags in batches (MLflow takes up to 100 params per call)."""
        from mlflow.entities import Metric, Param, RunTag

        stamp = int(time.time() * 1000)
        param_list = [Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()]
        metric_list = [Metric(k, float(v), stamp, 0) for k, v in metrics.items()]
        tag_list = [RunTag(k, str(v)) for k, v in tags.items()]
        with mlflow_errors(self.target):
            for start in range(0, max(len(param_list), len(metric_list), len(tag_list), 1), 100):
                self.client.log_batch(
                    self.run_id,
                    metrics=metric_list[start : start + 100],
                    params=param_list[start : start + 100],
                    tags=tag_list[start : start + 100],
                )

    def log_artifacts(self, local: Path, artifact_path: str | None = None) -> None:
        """Upload a file or a directory's contents."""
        repository = artifact_repository(self.target, self.artifact_uri)
        with mlflow_errors(self.target):
            if local.is_dir():
                repository.log_artifacts(str(local), artifact_path)
            else:
                repository.log_artifact(str(local), artifact_path)

    def register(self, name: str, artifact_path: str, tags: Mapping[str, str], description: str = "") -> str:
        """Register ``<run artifacts>/<artifact_path>`` as a new version of ``name``; returns the version."""
        with mlflow_errors(self.target, f"registered model {name}"):
            ensure_registered_model(self.client, name)
            version = self.client.create_model_version(
                name,
                source=f"{self.artifact_uri}/{artifact_path}",
                run_id=self.run_id,
                tags={k: str(v) for k, v in tags.items()},
                description=description or None,
            )
        return str(version.version)


DESCRIPTION = "Versions evaluated by Hokusai"


def ensure_registered_model(mlflow_client: Any, name: str) -> None:
    """Create the registered model unless it exists."""
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        mlflow_client.create_registered_model(name, description=DESCRIPTION)


def version_with_hash(target: TrackingTarget, name: str, model_hash: str) -> str | None:
    """The lowest version of ``name`` whose model hash tag equals ``model_hash``."""
    mlflow_client = client(target)
    with mlflow_errors(target):
        versions = mlflow_client.search_model_versions(f"name = '{name}'")
    matching = [int(v.version) for v in versions if v.tags.get(MODEL_HASH_TAG) == model_hash]
    return str(min(matching)) if matching else None
