"""MLflow models: fetch a baseline by URI or directory, load it safely, save a candidate, hash the estimator.

A model's hash is the SHA-256 of its serialized estimator file (the sklearn flavor's ``pickled_model``),
never of ``MLmodel`` or other metadata files that carry timestamps or uuids. Models load through
``model_files`` (skops with an allowlist; pickle only when allowed), after their hash is checked when one
was recorded. Candidates are saved as canonical skops files: the same training gives the same bytes.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hokusai.errors import InvalidInput, NotFound
from hokusai.hashing import file_sha256
from hokusai.tracking.model_files import (
    EXTRA_TRUSTED_TYPES,
    SKOPS,
    ModelFile,
    canonical_skops,
    check_hash,
    inspect_model_file,
    load_model_file,
)
from hokusai.tracking.target import TrackingTarget, artifact_repository, client, mlflow_errors, quiet_mlflow

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")
_LOGGED_MODEL_URI = re.compile(r"^models:/(?P<model_id>m-[0-9a-f]+)$")
_RUNS_URI = re.compile(r"^runs:/(?P<run_id>[0-9a-f]{1,64})/(?P<path>[A-Za-z0-9][A-Za-z0-9._/-]{0,250})$")
SERIALIZATION = SKOPS
MLMODEL_MAX_BYTES = 1 << 20  # an MLmodel file is a few KB; it is parsed by the API
MODEL_FILE, CONDA_FILE, PYTHON_ENV_FILE = "model.skops", "conda.yaml", "python_env.yaml"  # save_model's names


@dataclass(frozen=True)
class ModelSource:
    """Where a baseline came from: its reference and, when registered, its name and version."""

    reference: str
    registered_name: str | None = None
    version: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class LoadedModel:
    """A scikit-learn model read from an MLflow model directory."""

    estimator: Any
    directory: Path
    model_file: Path
    model_hash: str
    format: str = SKOPS


def fetch_model(target: TrackingTarget, reference: str, destination: Path) -> tuple[Path, ModelSource]:
    """A local MLflow model directory for ``reference`` (a directory, ``models:/…`` or ``runs:/…``)."""
    if "://" not in reference and ":/" not in reference:
        directory = Path(reference).expanduser()
        if not directory.is_dir():
            raise NotFound(
                f"baseline {reference!r} is neither an MLflow model directory nor a models:/NAME/VERSION, "
                "models:/NAME@ALIAS or runs:/RUN_ID/PATH URI"
            )
        return directory, ModelSource(reference=str(directory.resolve()))
    mlflow_client = client(target)
    with mlflow_errors(target, f"baseline {reference}"):
        if match := _MODELS_URI.match(reference):
            name = match["name"]
            version = (
                mlflow_client.get_model_version_by_alias(name, match["alias"])
                if match["alias"]
                else mlflow_client.get_model_version(name, match["version"])
            )
            location = mlflow_client.get_model_version_download_uri(name, version.version)
            source = ModelSource(reference, name, str(version.version), version.run_id)
        elif match := _LOGGED_MODEL_URI.match(reference):
            logged = mlflow_client.get_logged_model(match["model_id"])
            location = logged.artifact_location
            source = ModelSource(reference, run_id=logged.source_run_id)
        elif (match := _RUNS_URI.match(reference)) and ".." not in match["path"].split("/"):
            location = _run_model_location(target, mlflow_client, match["run_id"], match["path"])
            source = ModelSource(reference, run_id=match["run_id"])
        else:
            raise InvalidInput(
                f"baseline {reference!r} is not a models:/NAME/VERSION, models:/NAME@ALIAS, "
                "runs:/RUN_ID/PATH URI or a directory"
            )
        destination.mkdir(parents=True, exist_ok=True)
        local = artifact_repository(target, location).download_artifacts("", str(destination))
    return Path(local), source


def _run_model_location(target: TrackingTarget, mlflow_client: Any, run_id: str, path: str) -> str:
    """A model logged in a run: an MLflow 3 logged model of that name, else the run's artifact path."""
    run = mlflow_client.get_run(run_id)
    logged = mlflow_client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"name = '{path}'"
    )
    for model in logged:
        if model.source_run_id == run_id:
            return model.artifact_location
    return f"{run.info.artifact_uri}/{path.strip('/')}"


def sklearn_flavor(directory: Path) -> dict[str, Any]:
    """The sklearn flavor of an MLflow model directory, or a clear error. The ``MLmodel`` file is bounded
    before it is parsed (``MLMODEL_MAX_BYTES``) and only its string fields are used: a YAML alias bomb
    loads as shared references, and stays unexpanded."""
    mlmodel = directory / "MLmodel"
    if not mlmodel.is_file():
        raise InvalidInput(f"{directory} is not an MLflow model directory (no MLmodel file)")
    if mlmodel.stat().st_size > MLMODEL_MAX_BYTES:
        raise InvalidInput(
            f"the MLmodel file is larger than {MLMODEL_MAX_BYTES} bytes", code="bad_model_file"
        )
    try:
        document = yaml.safe_load(mlmodel.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"the MLmodel file is not readable YAML ({exc})", code="bad_model_file") from None
    flavors = document.get("flavors") if isinstance(document, dict) else None
    flavors = flavors if isinstance(flavors, dict) else {}
    if not isinstance(flavors.get("sklearn"), dict):
        names = ", ".join(str(name) for name in flavors if isinstance(name, str))[:200]
        raise InvalidInput(
            f"the model at {directory} is not a scikit-learn model (flavors: {names or 'none'})",
            code="not_a_classifier",
        )
    return flavors["sklearn"]


def _text(flavor: dict[str, Any], key: str, default: str) -> str:
    value = flavor.get(key, default)
    if not isinstance(value, str):
        raise InvalidInput(f"the MLmodel file's {key} is not a string", code="bad_model_file")
    return value


def _model_file(directory: Path, flavor: dict[str, Any]) -> Path:
    relative = Path(_text(flavor, "pickled_model", ""))
    if not relative.parts or relative.is_absolute() or ".." in relative.parts:
        raise InvalidInput(f"the MLmodel file in {directory.name} names no model file inside the model")
    return directory / relative


def inspect_model_dir(directory: Path) -> ModelFile:
    """What an MLflow sklearn model directory holds (format, hash, estimator class) without loading it."""
    flavor = sklearn_flavor(directory)
    return inspect_model_file(_model_file(directory, flavor), _text(flavor, "serialization_format", "pickle"))


def load_model_dir(
    directory: Path,
    *,
    expected_hash: str | None = None,
    expected_format: str | None = None,
    allow_pickle: bool = False,
) -> LoadedModel:
    """Load the estimator of an MLflow sklearn model directory, after checking its file's hash.

    ``expected_hash``/``expected_format`` are what was recorded at registration: a different file fails
    with ``model_tampered`` before a byte of it is deserialised, and the recorded format (not the one the
    directory's MLmodel claims) decides how it is read. pickle formats need ``allow_pickle``.
    """  # fmt: skip
    flavor = sklearn_flavor(directory)
    model_file = _model_file(directory, flavor)
    digest = check_hash(model_file, expected_hash)
    serialization = expected_format or _text(flavor, "serialization_format", "pickle")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = load_model_file(model_file, serialization, allow_pickle=allow_pickle)
    return LoadedModel(estimator, directory, model_file, digest, serialization)


def save_model_dir(estimator: Any, directory: Path) -> LoadedModel:
    """Save ``estimator`` as an MLflow sklearn model directory (canonical skops file) and hash it.

    The directory is the one ``mlflow.sklearn.save_model`` writes (``MLmodel`` with the sklearn and
    python_function flavors, ``requirements.txt``, ``conda.yaml``, ``python_env.yaml``; a test compares
    them), written through MLflow's model API instead: ``save_model`` checks the requirements against
    every installed distribution (~1 s a process) to warn about mismatches that the pinned requirements
    of this very environment cannot have, and loads the file back once more.
    """
    import mlflow.sklearn
    import sklearn
    import skops.io
    from mlflow.models import Model
    from mlflow.pyfunc import add_to_model
    from mlflow.utils.environment import _PythonEnv  # the python_env.yaml save_model writes

    quiet_mlflow()
    directory.mkdir(parents=True, exist_ok=True)
    model_file = directory / MODEL_FILE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model_file.write_bytes(canonical_skops(skops.io.dumps(estimator)))
    model = Model()
    add_to_model(
        model, loader_module="mlflow.sklearn", model_path=MODEL_FILE, conda_env=CONDA_FILE,
        python_env=PYTHON_ENV_FILE, code=None, predict_fn="predict",
    )  # fmt: skip
    model.add_flavor(
        "sklearn", pickled_model=MODEL_FILE, sklearn_version=sklearn.__version__,
        serialization_format=SERIALIZATION, code=None, skops_trusted_types=list(EXTRA_TRUSTED_TYPES),
    )  # fmt: skip
    model.model_size_bytes = model_file.stat().st_size
    model.save(str(directory / "MLmodel"))
    conda = mlflow.sklearn.get_default_conda_env(include_skops=True)
    (directory / CONDA_FILE).write_text(yaml.safe_dump(conda, default_flow_style=False))
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    (directory / "requirements.txt").write_text("\n".join(pip))
    _PythonEnv.current().to_yaml(str(directory / PYTHON_ENV_FILE))
    return LoadedModel(estimator, directory, model_file, file_sha256(model_file), SERIALIZATION)
