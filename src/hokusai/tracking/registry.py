"""The model registry as the API sees it: baselines registered on the platform's MLflow server.

A baseline is logged into a run of its own and registered with the tags the pipeline looks for
(``hokusai.role=baseline``, ``hokusai.model_hash``), so later candidates become new versions of the
same registered model and the lineage shows them all.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hokusai.config import Settings
from hokusai.errors import Conflict, NotFound
from hokusai.tracking.runs import DESCRIPTION, MODEL_HASH_TAG, ROLE_TAG, PipelineRun
from hokusai.tracking.target import (
    TrackingTarget,
    artifact_repository,
    client,
    experiment_location,
    mlflow_errors,
)

BASELINE_ARTIFACT = "baseline"
PLATFORM_EXPERIMENT_PREFIX = "hokusai/"  # experiments of platform models: only the platform makes them


def server_target(settings: Settings) -> TrackingTarget:
    """The platform's MLflow server (the API never writes to the backend store directly)."""
    return TrackingTarget(
        uri=str(settings.mlflow_url),
        artifact_root=str(settings.artifact_root),
        s3_endpoint_url=settings.s3_endpoint_url,
    )


def model_experiment(name: str) -> str:
    """The MLflow experiment of a platform model: its baseline and every evaluation of it."""
    return f"{PLATFORM_EXPERIMENT_PREFIX}{name}"


def create_model_objects(target: TrackingTarget, name: str) -> str:
    """Create a platform model's MLflow objects, its registered model ``name`` and its experiment
    ``hokusai/<name>``; returns the experiment id.

    Created, never looked up: a name that exists in MLflow in any state (someone made it through the proxy,
    or deleted it and it waits in MLflow's trash) is refused with 409 ``mlflow_name_taken``, so the platform
    never adopts an object someone else made. MLflow's own unique names make this race-free.
    """
    mlflow_client = client(target)
    experiment = model_experiment(name)
    with mlflow_errors(target, f"registered model {name}"):
        if not _created(lambda: mlflow_client.create_registered_model(name, description=DESCRIPTION)):
            raise _taken("registered model", name)
    location = experiment_location(target, experiment)
    with mlflow_errors(target, f"experiment {experiment}"):
        created: list[str] = []
        if not _created(lambda: created.append(mlflow_client.create_experiment(experiment, location))):
            mlflow_client.delete_registered_model(name)
            raise _taken("experiment", experiment)
    return str(created[0])


def discard_model_objects(target: TrackingTarget, name: str, experiment_id_: str) -> None:
    """Undo :func:`create_model_objects` after a failed registration: the registered model is deleted and
    the experiment renamed out of the platform's names, then deleted (so the name can be registered again)."""
    mlflow_client = client(target)
    with contextlib.suppress(Exception):
        mlflow_client.delete_registered_model(name)
    with contextlib.suppress(Exception):
        discarded = f"hokusai-discarded/{experiment_id_}/{uuid.uuid4().hex}"
        mlflow_client.rename_experiment(experiment_id_, discarded)
        mlflow_client.delete_experiment(experiment_id_)


def _created(create: Callable[[], object]) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        create()
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_ALREADY_EXISTS":
            return False
        raise
    return True


def _taken(kind: str, name: str) -> Conflict:
    return Conflict(
        f"the MLflow {kind} {name!r} already exists and is not this platform's (it was made through MLflow, "
        "possibly deleted since); register the model under another name",
        code="mlflow_name_taken",
        details={"mlflow_object": kind, "name": name},
    )


def register_baseline(
    target: TrackingTarget, name: str, directory: Path, model_hash: str, source: str
) -> str:
    """Log the model directory in a run of the model's experiment (made by :func:`create_model_objects`)
    and register it as the first version of ``name``; returns the version."""
    tags = {ROLE_TAG: "baseline", MODEL_HASH_TAG: model_hash, "hokusai.source": source}
    experiment = model_experiment(name)
    with PipelineRun(target, run_name=f"baseline {name}", tags=tags, experiment=experiment) as run:
        run.log_artifacts(directory, BASELINE_ARTIFACT)
        return run.register(name, BASELINE_ARTIFACT, tags, "baseline registered through the Hokusai API")


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


CANDIDATE_ARTIFACTS = ("model",)  # what a pipeline run logs that was fitted on the contributed rows


def erase_candidate(
    target: TrackingTarget, name: str, version: str | None, mlflow_run_id: str | None
) -> None:
    """Delete what MLflow holds that was fitted on a run's contributed rows, for a run that was not accepted:
    its candidate's registered version and the candidate model the run logged (an instance-based model keeps
    rows). The run's params, metrics, plots and report (hashes and counts, no rows) stay. Idempotent."""
    mlflow = client(target)
    if version is not None:
        with (
            contextlib.suppress(NotFound),
            mlflow_errors(target, f"registered model {name} version {version}"),
        ):
            mlflow.delete_model_version(name, version)
    if mlflow_run_id is None:
        return
    try:
        with mlflow_errors(target, f"run {mlflow_run_id}"):
            artifact_uri = mlflow.get_run(mlflow_run_id).info.artifact_uri
    except NotFound:
        return
    repository = artifact_repository(target, artifact_uri)
    with mlflow_errors(target, f"artifacts of run {mlflow_run_id}"):
        present = {info.path for info in repository.list_artifacts()}
        for folder in CANDIDATE_ARTIFACTS:
            if folder in present:
                repository.delete_artifacts(folder)


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
