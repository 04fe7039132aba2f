"""Where the pipeline records: an MLflow server named explicitly, or its own embedded store.

Resolution (one place, no guessing): ``HOKUSAI_TRACKING_URI`` if set (an MLflow server, or a backend store
used directly; the CLI sets it to the platform's authenticated proxy ``<HOKUSAI_URL>/mlflow`` when
``HOKUSAI_URL`` is set, else to its own store ``<data dir>/cli/mlflow.db``: ``standalone``); else the
embedded store, the backend store ``HOKUSAI_MLFLOW_BACKEND_STORE_URI`` (``sqlite:///<data dir>/mlflow.db``)
used directly. A server that happens to answer on the default MLflow port is never used: on a shared host
it may be anyone's.

Artifacts use the server's layout in both modes. A server started by ``hokusai up`` proxies
artifacts (``mlflow-artifacts:/<path>`` stored at ``<artifact root>/<path>``); in embedded mode the
same URIs are translated to ``<artifact root>/<path>`` and written directly, so a run recorded
without a server is complete when the server starts later, and the other way round.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from hokusai.config import Settings
from hokusai.errors import HokusaiError, InvalidInput, NotFound, ServiceUnavailable

STANDALONE_DIR = "cli"
"""``<data dir>/cli/``: the store of CLI evaluations without a platform (``mlflow.db``, ``mlartifacts/``)."""
PROBE_TIMEOUT_SECONDS = 0.5
REACHABLE_TIMEOUT_SECONDS = 5.0
EXPERIMENT = "hokusai-evaluations"
PROXIED_SCHEME = "mlflow-artifacts:"
UNAVAILABLE = "mlflow_unavailable"  # the error code of every failure of MLflow itself


@dataclass(frozen=True)
class TrackingTarget:
    """A resolved tracking URI; ``artifact_root`` is where proxied artifacts live when embedded."""

    uri: str
    artifact_root: str
    s3_endpoint_url: str | None = None

    @property
    def embedded(self) -> bool:
        return not self.uri.startswith(("http://", "https://"))

    def describe(self) -> str:
        """Where runs are recorded, in words a user can act on."""
        if self.embedded:
            return f"the embedded MLflow store {self.uri} (artifacts in {self.artifact_root})"
        return f"the MLflow server at {self.uri}"


def server_answers(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """True when an MLflow server at ``url`` answers ``/health`` with 200 within ``timeout`` (with the token
    the MLflow client sends, ``MLFLOW_TRACKING_TOKEN``, so the platform's proxy answers too)."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return httpx.get(f"{url.rstrip('/')}/health", headers=headers, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def resolve_tracking(settings: Settings) -> TrackingTarget:
    """The tracking target for these settings: the explicit ``tracking_uri``, else the embedded store."""
    uri = settings.tracking_uri or str(settings.mlflow_backend_store_uri)
    return TrackingTarget(
        uri=uri, artifact_root=str(settings.artifact_root), s3_endpoint_url=settings.s3_endpoint_url
    )


def standalone(settings: Settings) -> Settings:
    """The settings of a CLI evaluation without a platform: its own embedded store in
    ``<data dir>/cli/`` (``mlflow.db`` and ``mlartifacts/``), never the backend store the platform's MLflow
    server reads (``HOKUSAI_MLFLOW_BACKEND_STORE_URI``), so nothing recorded here shows up there."""
    root = settings.data_dir / STANDALONE_DIR
    root.mkdir(parents=True, exist_ok=True)
    return settings.model_copy(
        update={"tracking_uri": f"sqlite:///{root / 'mlflow.db'}", "artifact_root": str(root / "mlartifacts")}
    )


def ensure_reachable(target: TrackingTarget) -> None:
    """Fail fast (before any training) when the tracking server does not answer."""
    if not target.embedded and not server_answers(target.uri, timeout=REACHABLE_TIMEOUT_SECONDS):
        raise ServiceUnavailable(
            f"MLflow at {target.uri} is not reachable (no answer from /health); start it (hokusai up) "
            "or unset HOKUSAI_TRACKING_URI and HOKUSAI_URL to use the embedded store",
            code=UNAVAILABLE,
        )


def quiet_mlflow() -> None:
    """Keep MLflow's chatter (table creation, pickle advice, "View run" links) off the console:
    stdout belongs to the command (``--json`` prints one object there)."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


def client(target: TrackingTarget) -> Any:
    """An ``MlflowClient`` for the target (tracking and registry on the same URI)."""
    from mlflow.tracking import MlflowClient

    quiet_mlflow()

    if target.embedded and target.s3_endpoint_url:
        os.environ.setdefault("MLFLOW_S3_ENDPOINT_URL", target.s3_endpoint_url)
    return MlflowClient(tracking_uri=target.uri, registry_uri=target.uri)


def storage_uri(target: TrackingTarget, artifact_uri: str) -> str:
    """The URI to read or write ``artifact_uri`` at: proxied URIs become artifact-root paths when embedded."""
    if target.embedded and artifact_uri.startswith(PROXIED_SCHEME):
        path = artifact_uri[len(PROXIED_SCHEME) :].lstrip("/")
        return f"{target.artifact_root.rstrip('/')}/{path}"
    return artifact_uri


def artifact_repository(target: TrackingTarget, artifact_uri: str) -> Any:
    """An MLflow artifact repository for ``artifact_uri`` that works in both modes."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return get_artifact_repository(storage_uri(target, artifact_uri), tracking_uri=target.uri)


def experiment_id(target: TrackingTarget, name: str = EXPERIMENT) -> str:
    """The pipeline's experiment, created on first use (artifacts under ``<artifact root>/<name>``
    when embedded; the server's default location otherwise)."""
    mlflow_client = client(target)
    with mlflow_errors(target):
        existing = mlflow_client.get_experiment_by_name(name)
        if existing is not None:
            return existing.experiment_id
        return mlflow_client.create_experiment(name, artifact_location=experiment_location(target, name))


def experiment_location(target: TrackingTarget, name: str) -> str | None:
    """Where a new experiment's artifacts go: ``<artifact root>/<name>`` when embedded, else the server's
    default location."""
    return f"{PROXIED_SCHEME}/{name}" if target.embedded else None


@contextlib.contextmanager
def mlflow_errors(target: TrackingTarget, what: str = "MLflow") -> Iterator[None]:
    """Map MLflow failures to the platform's errors: missing things -> NotFound, a bad value -> InvalidInput,
    the rest -> 503 (MLflow itself failed)."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except HokusaiError:
        raise
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            raise NotFound(f"{what}: {exc.message.splitlines()[0]}") from None
        if exc.error_code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "RESOURCE_ALREADY_EXISTS"):
            raise InvalidInput(f"{what}: {exc.message.splitlines()[0]}") from None
        raise ServiceUnavailable(
            f"MLflow at {target.uri} failed: {exc.message.splitlines()[0]}", code=UNAVAILABLE
        ) from None
    except (OSError, httpx.HTTPError) as exc:  # connection errors and artifact storage errors
        raise ServiceUnavailable(f"MLflow at {target.uri} failed: {exc}", code=UNAVAILABLE) from None
