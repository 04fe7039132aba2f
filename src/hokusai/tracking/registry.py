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
from hokusai.tracking.runs import MODEL_HASH_TAG, ROLE_TAG, PipelineRun
from hokusai.tracking.target import TrackingTarget, client, mlflow_errors

BASELINE_ARTIFACT = "baseline"


def server_target(settings: Settings) -> TrackingTarget:
    """The platform's MLflow server (the API never writes to the backend store directly)."""
    return TrackingTarget(
        uri=str(settings.mlflow_url),
        artifact_root=str(settings.artifact_root),
        s3_endpoint_url=settings.s3_endpoint_url,
    )


def register_baseline(
    target: TrackingTarget, name: str, directory: Path, model_hash: str, source: str
) -> str:
    """Log the model directory in a run and register it as a version of ``name``; returns the version."""
    tags = {ROLE_TAG: "baseline", MODEL_HASH_TAG: model_hash, "hokusai.source": source}
    with PipelineRun(target, run_name=f"baseline {name}", tags=tags) as run:
        run.log_artifacts(directory, BASELINE_ARTIFACT)
        return run.register(name, BASELINE_ARTIFACT, tags, "baseline registered through the Hokusai API")


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
