"""Models: register a baseline (from a logged MLflow model or an uploaded model directory archive),
list and read them, and trace a model's lineage through its registry versions and runs."""

from __future__ import annotations

import re
import tarfile
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hokusai.config import Settings
from hokusai.errors import Conflict, Forbidden, InvalidInput, NotFound
from hokusai.server.auth.principal import Principal
from hokusai.server.db.models import Dataset, Model, Run, utcnow
from hokusai.server.services.datasets import dataset_view, get_dataset
from hokusai.server.services.runs import SUCCEEDED, run_contributions
from hokusai.storage import BlobStore

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_ARCHIVE_MEMBERS = 10_000


class ModelRegistration(BaseModel):
    """A baseline to register: where it is logged (a run or registry URI) and the data that goes with it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    model_type: Literal["classification", "regression"] = "classification"
    target_column: str = Field(min_length=1, max_length=128)
    train_dataset_id: str
    benchmark_dataset_id: str
    source_uri: str | None = Field(None, description="runs:/RUN_ID/PATH or models:/NAME/VERSION")


def check_model_name(name: str) -> str:
    """Model names are URL path segments: letters, digits, '.', '_' or '-', no '/'."""
    if not MODEL_NAME.match(name):
        raise InvalidInput(
            f"model name {name!r} must be 1-128 letters, digits, '.', '_' or '-' (no '/')",
            code="bad_model_name",
        )
    return name


def get_model(session: Session, name: str) -> Model:
    """The model called ``name`` (or with that id, so ids in responses work in URLs too); 404 otherwise."""
    model = session.scalar(select(Model).where(Model.name == name)) or session.get(Model, name)
    if model is None:
        raise NotFound(f"no model named {name!r}", code="model_not_found")
    return model


def get_model_by_id(session: Session, model_id: str) -> Model:
    """The model with id ``model_id``; 404 otherwise."""
    model = session.get(Model, model_id)
    if model is None:
        raise NotFound(f"no model with id {model_id!r}", code="model_not_found")
    return model


def list_models(session: Session) -> list[Model]:
    """All models, by name."""
    return list(session.scalars(select(Model).order_by(Model.name)))


def extract_model_archive(archive: Path, destination: Path, max_bytes: int) -> Path:
    """Unpack a .tar.gz/.tgz/.zip of an MLflow model directory safely; returns the folder holding MLmodel.

    Refuses absolute paths, '..', links and devices, and more than ``max_bytes`` unpacked.
    """
    destination.mkdir(parents=True, exist_ok=True)
    name = archive.name.lower()
    members: list[tuple[str, int, bool]] = []  # (path, size, is_dir)
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    if not (member.isfile() or member.isdir()):
                        raise InvalidInput(f"model archive member {member.name!r} is a link or device")
                    members.append((member.name, member.size, member.isdir()))
                _check_members(members, max_bytes)
                tar.extractall(destination, filter="data")
        except tarfile.TarError as exc:
            raise InvalidInput(f"the model archive cannot be read: {exc}", code="bad_archive") from None
    elif name.endswith(".zip"):
        try:
            with zipfile.ZipFile(archive) as zipped:
                members = [(i.filename, i.file_size, i.is_dir()) for i in zipped.infolist()]
                _check_members(members, max_bytes)
                zipped.extractall(destination)
        except zipfile.BadZipFile as exc:
            raise InvalidInput(f"the model archive cannot be read: {exc}", code="bad_archive") from None
    else:
        raise InvalidInput("a model archive must be .tar.gz, .tgz, .tar or .zip", code="bad_archive")
    found = sorted(destination.rglob("MLmodel"), key=lambda p: len(p.parts))
    if not found:
        raise InvalidInput("the archive holds no MLflow model (no MLmodel file)", code="bad_archive")
    return found[0].parent


def _check_members(members: list[tuple[str, int, bool]], max_bytes: int) -> None:
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise InvalidInput(
            f"the model archive has more than {MAX_ARCHIVE_MEMBERS} entries", code="bad_archive"
        )
    total = 0
    for path, size, _is_dir in members:
        parts = Path(path).parts
        if path.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise InvalidInput(
                f"model archive member {path!r} points outside the archive", code="bad_archive"
            )
        total += size
    if total > max_bytes:
        raise InvalidInput(f"the model archive unpacks to more than {max_bytes} bytes", code="bad_archive")


def register_model(
    session: Session,
    settings: Settings,
    store: BlobStore,
    principal: Principal,
    registration: ModelRegistration,
    *,
    archive: Path | None = None,
) -> Model:
    """Check the data and the model, register the baseline in MLflow, and record the model."""
    from hokusai.data import infer_schema
    from hokusai.tracking.models import fetch_model, load_model_dir
    from hokusai.tracking.registry import register_baseline, server_target

    name = check_model_name(registration.name)
    if session.scalar(select(Model.id).where(Model.name == name)) is not None:
        raise Conflict(f"a model named {name!r} is already registered", code="model_exists")
    if (archive is None) == (registration.source_uri is None):
        raise InvalidInput(
            "give either source_uri (a logged MLflow model) or a model archive", code="bad_source"
        )
    train = get_dataset(session, registration.train_dataset_id)
    benchmark = get_dataset(session, registration.benchmark_dataset_id)
    for role, dataset in (("training data", train), ("benchmark", benchmark)):
        if registration.target_column not in dataset.columns:
            raise InvalidInput(
                f"the target column {registration.target_column!r} is not in the {role} "
                f"(columns: {', '.join(dataset.columns)})",
                code="target_missing",
            )
    schema = infer_schema(store.local_path(train.storage_key), label=registration.target_column)
    target = server_target(settings)
    with tempfile.TemporaryDirectory(dir=_tmp(settings)) as tmp:
        if archive is not None:
            directory = extract_model_archive(archive, Path(tmp) / "archive", settings.upload_max_bytes)
            source = f"upload:{archive.name}"
        else:
            directory, _ = fetch_model(target, str(registration.source_uri), Path(tmp) / "model")
            source = str(registration.source_uri)
        loaded = load_model_dir(directory)
        if registration.model_type == "classification" and not _is_classifier(loaded.estimator):
            raise InvalidInput(
                f"the model is a {type(loaded.estimator).__name__}, not a classifier", code="not_a_classifier"
            )
        version = register_baseline(target, name, directory, loaded.model_hash, source)
    model = Model(
        id=uuid.uuid4().hex,
        name=name,
        model_type=registration.model_type,
        target_column=registration.target_column,
        owner_id=principal.id,
        baseline_version=version,
        source_uri=source,
        train_dataset_id=train.id,
        benchmark_dataset_id=benchmark.id,
        data_schema=schema.to_dict(),
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(model)
    except IntegrityError:
        raise Conflict(f"a model named {name!r} is already registered", code="model_exists") from None
    return model


def _tmp(settings: Settings) -> Path:
    path = settings.data_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _is_classifier(estimator: Any) -> bool:
    from sklearn.base import is_classifier

    return bool(is_classifier(estimator) or hasattr(estimator, "predict_proba"))


def ensure_can_manage(principal: Principal, model: Model) -> None:
    """Admins and the model's owner manage a model; others get 403."""
    if not (principal.is_admin or principal.id == model.owner_id):
        raise Forbidden(f"only the owner of {model.name!r} or an admin may do this", code="not_model_owner")


def model_view(session: Session, model: Model) -> dict[str, Any]:
    """The JSON a client sees of a model."""
    train = session.get(Dataset, model.train_dataset_id)
    benchmark = session.get(Dataset, model.benchmark_dataset_id)
    assert train is not None and benchmark is not None
    return {
        "id": model.id,
        "name": model.name,
        "model_type": model.model_type,
        "target_column": model.target_column,
        "owner_id": model.owner_id,
        "baseline_version": model.baseline_version,
        "baseline_uri": f"models:/{model.name}/{model.baseline_version}",
        "source_uri": model.source_uri,
        "train_dataset": dataset_view(train),
        "benchmark_dataset": dataset_view(benchmark),
        "data_schema": model.data_schema,
        "created_at": model.created_at.isoformat(),
    }


def lineage(session: Session, settings: Settings, model: Model) -> dict[str, Any]:
    """Every version of the model's one registered model, baseline first, with what produced each."""
    from hokusai.tracking.registry import registered_versions, server_target

    versions = registered_versions(server_target(settings), model.name)
    runs = {
        run.registered_version: run
        for run in session.scalars(select(Run).where(Run.model_id == model.id, Run.state == SUCCEEDED))
        if run.registered_version
    }
    entries, cumulative = [], 0.0
    ordered = sorted(versions, key=lambda v: (v["version"] != model.baseline_version, int(v["version"])))
    for version in ordered:
        run = runs.get(version["version"])
        entry: dict[str, Any] = {
            "version": version["version"],
            "uri": f"models:/{model.name}/{version['version']}",
            "role": "baseline" if version["version"] == model.baseline_version else "candidate",
            "created_at": version["created_at"],
            "tags": version["tags"],
        }
        if run is not None:
            result = run.result or {}
            accepted = bool(result.get("accepted"))
            entry.update(
                role="improvement" if accepted else "candidate",
                run_id=run.id,
                attestation_id=run.attestation_id,
                outcome=run.outcome,
                delta_one_score=run.delta_one_score,
                primary_metric=result.get("primary_metric"),
                delta_pp=result.get("delta_pp"),
                metric_deltas=result.get("metric_deltas"),
                contributions=[
                    {
                        "id": c.id,
                        "contributor_address": c.contributor_address,
                        "weight_bps": link.weight_bps,
                        "data_hash": _data_hash(session, c.dataset_id),
                    }
                    for link, c in run_contributions(session, run)
                ],
            )
            if accepted and result.get("delta_pp") is not None:
                cumulative += float(result["delta_pp"])
        entries.append(entry)
    return {
        "model": model.name,
        "baseline_version": model.baseline_version,
        "versions": entries,
        "cumulative_improvement_pp": round(cumulative, 6),
    }


def _data_hash(session: Session, dataset_id: str) -> str | None:
    dataset = session.get(Dataset, dataset_id)
    return dataset.sha256 if dataset else None
