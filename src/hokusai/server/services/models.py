"""Models: register a baseline (from a logged MLflow model or an uploaded model directory archive),
list and read them, and trace a model's lineage through its registry versions and runs."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hokusai import schemas
from hokusai.bounds import InflateBudget, extract_archive
from hokusai.config import Settings
from hokusai.errors import Conflict, Forbidden, InvalidInput, NotFound, found
from hokusai.server import policy
from hokusai.server.db.models import Dataset, Model, Run, utcnow
from hokusai.server.db.models import Principal as PrincipalRow
from hokusai.server.policy import ADMIN_ROLE, MlflowLevel
from hokusai.server.principal import Principal
from hokusai.server.services import benchmarks, mlflow_permissions
from hokusai.server.services.access import dataset_subject, model_subject
from hokusai.server.services.attestations import contribution_value
from hokusai.server.services.audit import record_event
from hokusai.server.services.datasets import dataset_view, get_dataset
from hokusai.server.services.mint import bind_onchain_id, record_head
from hokusai.server.services.runs import SUCCEEDED, counted_runs, run_contributions
from hokusai.storage import BlobStore

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_ARCHIVE_MEMBERS = 10_000
_SOURCE_URI = re.compile(
    r"^(?:runs:/(?P<run_id>[0-9a-f]{1,64})/(?P<path>[A-Za-z0-9][A-Za-z0-9._/-]{0,250})"
    r"|models:/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,127})/(?P<version>[0-9]{1,10}))$"
)
SOURCE_URI_PATTERN = re.sub(r"\(\?P<\w+>", "(?:", _SOURCE_URI.pattern)  # the same, in JSON Schema's syntax


class ModelRegistration(schemas.RequestBody):
    """A baseline to register: where it is logged (a run or registry URI) and the data that goes with it."""

    name: str = Field(pattern=MODEL_NAME.pattern)
    model_type: Literal["classification", "regression"] = "classification"
    target_column: str = Field(min_length=1, max_length=128)
    train_dataset_id: str = Field(min_length=1, max_length=64)
    benchmark_dataset_id: str = Field(min_length=1, max_length=64)
    source_uri: str | None = Field(
        None,
        max_length=500,
        description="runs:/RUN_ID/PATH or models:/NAME/VERSION (you must be able to read it)",
    )
    accepts_contributions: bool = True
    onchain_id: str | None = Field(
        None, max_length=78, description="The model's uint256 id in the DeltaVerifier contract (decimal)"
    )
    benchmark: benchmarks.SpecFields | None = Field(  # type: ignore[valid-type]
        None,
        description="Benchmark spec fields (seed, task, primary metric, guardrails, threshold, cooldown, "
        "contribution schema…); the rest is derived from the registration",
    )


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
    return found(
        session.scalar(select(Model).where(Model.name == name)) or session.get(Model, name),
        NotFound(f"no model named {name!r}", code="model_not_found"),
    )


def get_model_by_id(session: Session, model_id: str) -> Model:
    """The model with id ``model_id``; 404 otherwise."""
    return found(
        session.get(Model, model_id), NotFound(f"no model with id {model_id!r}", code="model_not_found")
    )


def list_models(session: Session) -> list[Model]:
    """All models, by name."""
    return list(session.scalars(select(Model).order_by(Model.name)))


def extract_model_archive(archive: Path, destination: Path, max_bytes: int) -> Path:
    """Unpack a .tar.gz/.tgz/.zip of an MLflow model directory safely (``bounds.extract_archive``: no
    links, devices or paths outside, at most ``max_bytes`` inflated, declared and counted); returns the
    folder holding MLmodel."""
    budget = InflateBudget(
        max_bytes, "the model archive", "HOKUSAI_ARCHIVE_MAX_UNPACKED_BYTES", code="archive_too_large"
    )
    extract_archive(archive, destination, budget, MAX_ARCHIVE_MEMBERS)
    found = sorted(destination.rglob("MLmodel"), key=lambda p: len(p.parts))
    if not found:
        raise InvalidInput("the archive holds no MLflow model (no MLmodel file)", code="bad_archive")
    return found[0].parent


def check_source_uri(value: str) -> re.Match[str]:
    """A logged model's URI: ``runs:/RUN_ID/PATH`` or ``models:/NAME/VERSION`` only (never a server path);
    the strict characters keep it from ever reaching an MLflow filter as anything but a value."""
    match = _SOURCE_URI.match(value)
    if match is None or ".." in value.split("/"):
        raise InvalidInput(
            "source_uri must be runs:/RUN_ID/PATH or models:/NAME/VERSION of a model you can read in MLflow "
            "(or upload the model directory as an archive)",
            code="bad_source",
        )
    return match


def _require_source_readable(session: Session, settings: Settings, principal: Principal, source: str) -> None:
    """404 unless the caller holds READ on the run's experiment or the registered model it names."""
    from hokusai.tracking.registry import run_experiment_id, server_target

    match = check_source_uri(source)
    if match["run_id"]:
        resource_type, resource_id = "experiment", run_experiment_id(server_target(settings), match["run_id"])
    else:
        resource_type, resource_id = "registered_model", match["name"]
    if resource_id is not None:
        held = mlflow_permissions.level_of(session, principal.id, resource_type, resource_id)
        if policy.mlflow_allows(principal, held, MlflowLevel.READ):
            return
    raise NotFound(f"no model at {source} that you can read", code="source_not_found")


def register_model(
    session: Session,
    settings: Settings,
    store: BlobStore,
    principal: Principal,
    registration: ModelRegistration,
    *,
    archive: Path | None = None,
) -> Model:
    """Check the data and the model (without ever loading it), register the baseline in MLflow, record
    the model with its file's hash and format, and give its owner MANAGE on its MLflow objects.

    The platform makes the model's MLflow objects itself (``tracking.registry.create_model_objects``):
    names that already exist in MLflow are refused (409 ``mlflow_name_taken``), and grants left on those
    names by objects deleted before are dropped. An on-chain id given here is an admin's binding."""
    from hokusai.attestation.commitment import model_bound, model_commitment
    from hokusai.data import infer_schema
    from hokusai.tracking.models import fetch_model, inspect_model_dir
    from hokusai.tracking.registry import (
        create_model_objects,
        discard_model_objects,
        register_baseline,
        server_target,
    )

    name = check_model_name(registration.name)
    if session.scalar(select(Model.id).where(Model.name == name)) is not None:
        raise Conflict(f"a model named {name!r} is already registered", code="model_exists")
    if registration.onchain_id is not None and principal.role != ADMIN_ROLE:
        raise Forbidden(
            "only an admin binds an on-chain id at registration; register, then bind it with the on-chain "
            f"owner's signature (hokusai models set-onchain-id {name} ID --wallet)",
            code="onchain_id_unsigned",
        )
    if (archive is None) == (registration.source_uri is None):
        raise InvalidInput(
            "give either source_uri (a logged MLflow model) or a model archive", code="bad_source"
        )
    if registration.source_uri is not None:
        _require_source_readable(session, settings, principal, registration.source_uri)
    train = get_dataset(session, registration.train_dataset_id)
    benchmark = get_dataset(session, registration.benchmark_dataset_id)
    for role, dataset in (("training data", train), ("benchmark", benchmark)):
        policy.require(principal, "dataset.read", dataset_subject(dataset))
        if registration.target_column not in dataset.columns:
            raise InvalidInput(
                f"the target column {registration.target_column!r} is not in the {role} "
                f"(columns: {', '.join(dataset.columns)})",
                code="target_missing",
            )
    target = server_target(settings)
    schema = infer_schema(store.local_path(train.storage_key), label=registration.target_column)
    spec = benchmarks.derive(
        model_type=registration.model_type,
        target=registration.target_column,
        train=train,
        benchmark=benchmark,
        schema=schema,
        fields=registration.benchmark,
    )  # checked before anything is registered
    with tempfile.TemporaryDirectory(dir=_tmp(settings)) as tmp:
        if archive is not None:
            directory = extract_model_archive(
                archive, Path(tmp) / "archive", settings.archive_max_unpacked_bytes
            )
            source = f"upload:{archive.name}"
        else:
            directory, _ = fetch_model(target, str(registration.source_uri), Path(tmp) / "model")
            source = str(registration.source_uri)
        info = inspect_model_dir(directory)
        _check_model_kind(session, principal, info, registration.model_type)
        model_id = uuid.uuid4().hex
        # the contract's lineage starts at the registered artifact, bound to this model
        genesis = model_bound(model_id, model_commitment(directory))
        experiment_id = create_model_objects(target, name)
        try:
            model = Model(
                id=model_id, name=name, model_type=registration.model_type,
                target_column=registration.target_column, owner_id=principal.id,
                baseline_version=register_baseline(target, name, directory, info.sha256, source),
                source_uri=source, train_dataset_id=train.id, benchmark_dataset_id=benchmark.id,
                data_schema=schema.to_dict(), created_at=utcnow(), model_hash=info.sha256,
                model_format=info.format, accepts_contributions=registration.accepts_contributions,
                experiment_id=experiment_id, weight_head=genesis,
            )  # fmt: skip
            _store_model(session, settings, principal, model, spec, benchmark.id, registration.onchain_id)
        except BaseException:
            discard_model_objects(target, name, experiment_id)
            raise
    record_event(
        session,
        "model_registered",
        principal_id=principal.id,
        resource=f"model:{name}",
        details={"version": model.baseline_version, "model_hash": info.sha256, "format": info.format},
    )
    return model


def _store_model(
    session: Session,
    settings: Settings,
    principal: Principal,
    model: Model,
    spec: Any,
    benchmark_id: str,
    onchain_id: str | None,
) -> None:
    """The model's row and first benchmark spec, its owner's MANAGE on its fresh MLflow objects (and no
    one else's grant left on those names), and its admin-bound on-chain id."""
    try:
        with session.begin_nested():
            session.add(model)
            session.flush()
            benchmarks.add_version(session, model, spec, benchmark_id, principal.id)
    except IntegrityError:
        raise Conflict(f"a model named {model.name!r} is already registered", code="model_exists") from None
    for resource_type, resource_id in (("registered_model", model.name), ("experiment", model.experiment_id)):
        assert resource_id is not None
        mlflow_permissions.grant_creator(session, resource_type, resource_id, principal.id, granted_by=None)
    if onchain_id is not None:
        bind_onchain_id(session, settings, principal, model, onchain_id)


def _check_model_kind(session: Session, principal: Principal, info: Any, model_type: str) -> None:
    """A skops model must be the kind registered; a pickle only for an owner an admin trusts with them."""
    from hokusai.tracking.model_files import SKOPS

    if info.format != SKOPS:
        owner = session.get(PrincipalRow, principal.id)
        if owner is None or not owner.trusted_pickle:
            raise InvalidInput(
                f"the model is a {info.format} file, which can run code when loaded; save it with skops "
                "(mlflow.sklearn.log_model's default) or ask an admin to trust your pickles",
                code="pickle_refused",
            )
        return  # its kind is checked by the run worker, the only process that may load it
    wanted = "classifier" if model_type == "classification" else "regressor"
    if info.kind != wanted:
        shown = info.estimator_class or "an unknown object"
        other = "regression" if model_type == "classification" else "classification"
        raise InvalidInput(
            f"the model is {shown}, not a scikit-learn {wanted}"
            + (f": register it with model_type {other}" if info.kind in ("classifier", "regressor") else ""),
            code=f"not_a_{wanted}",
            details={"estimator_class": info.estimator_class},
        )


def update_model(
    session: Session, settings: Settings, principal: Principal, model: Model, update: schemas.ModelUpdate
) -> Model:
    """Change whether the model accepts contributions, its on-chain id (an admin, or with the binding
    wallet's signature: ``services.mint.bind_onchain_id``; ``null`` unbinds), or its weight head after a
    mint (its owner or an admin; its evaluation rules are its benchmark spec's: ``services.benchmarks``)."""
    policy.require(principal, "model.write", model_subject(model))
    changes = update.model_dump(exclude_none=True)
    signed = {key: changes.pop(key, None) for key in ("onchain_signature", "onchain_wallet")}
    if "onchain_id" in update.model_fields_set:
        wallet, signature = signed["onchain_wallet"], signed["onchain_signature"]
        bind_onchain_id(session, settings, principal, model, update.onchain_id, wallet, signature)
        changes.update(onchain_id=update.onchain_id, onchain_wallet=model.onchain_wallet)
    elif any(signed.values()):
        raise InvalidInput("onchain_signature and onchain_wallet go with the onchain_id they bind",
                           code="bad_onchain_id")  # fmt: skip
    if "accepts_contributions" in changes:
        model.accepts_contributions = changes["accepts_contributions"]
    if "retention_days" in update.model_fields_set:  # null goes back to HOKUSAI_RETENTION_DAYS
        model.retention_days = update.retention_days
        changes["retention_days"] = update.retention_days
    if "weight_head" in changes:
        promoted = record_head(session, model, changes["weight_head"])
        changes["baseline_version"] = model.baseline_version if promoted else None
    if changes:
        record_event(
            session,
            "model_updated",
            principal_id=principal.id,
            resource=f"model:{model.name}",
            details=changes,
        )
    return model


def _tmp(settings: Settings) -> Path:
    path = settings.data_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_view(session: Session, model: Model) -> schemas.Model:
    """A model as a client sees it."""
    train = session.get(Dataset, model.train_dataset_id)
    benchmark = session.get(Dataset, model.benchmark_dataset_id)
    assert train is not None and benchmark is not None
    return schemas.Model(
        id=model.id,
        name=model.name,
        model_type=model.model_type,
        target_column=model.target_column,
        owner_id=model.owner_id,
        baseline_version=model.baseline_version,
        baseline_uri=f"models:/{model.name}/{model.baseline_version}",
        source_uri=model.source_uri,
        train_dataset=dataset_view(train),
        benchmark_dataset=dataset_view(benchmark),
        data_schema=model.data_schema,
        model_hash=model.model_hash,
        model_format=model.model_format,
        benchmark_spec=_spec_ref(session, model),
        accepts_contributions=model.accepts_contributions,
        retention_days=model.retention_days,
        experiment_id=model.experiment_id,
        onchain_id=model.onchain_id,
        onchain_chain_id=model.onchain_chain_id,
        onchain_contract=model.onchain_contract,
        onchain_wallet=model.onchain_wallet,
        weight_head=model.weight_head,
        created_at=model.created_at,
    )


def _spec_ref(session: Session, model: Model) -> schemas.SpecRef | None:
    row = benchmarks.current(session, model) if model.benchmark_spec_id else None
    if row is None:
        return None
    spec = benchmarks.load(row)
    return schemas.SpecRef(id=row.id, version=row.version, hash=spec.canonical_hash(), task=spec.task)


def lineage(session: Session, settings: Settings, model: Model, principal: Principal) -> schemas.Lineage:
    """Every version of the model's one registered model, baseline first, with what produced each.

    The accepted improvements form a chain (each one's baseline is the head the one before made, the model's
    ``baseline_version`` is the head now); a candidate version no stored run claims (its run lost the head
    or failed) is not listed. Owners and admins see every version; others the baseline and the accepted
    improvements (what the platform publishes). A contribution counts once per baseline version: a
    re-evaluation of contributions already counted is listed with ``counted: false`` and adds nothing to
    ``cumulative_improvement`` (the sum of counted accepted gains, in the primary metric's delta ``unit``;
    ``_pp`` too when that unit is pp).
    """
    from hokusai.tracking.registry import registered_versions, server_target
    from hokusai.tracking.runs import ROLE_TAG

    sees_all = policy.allows(principal, "model.write", model_subject(model)) or principal.role == "admin"
    versions = registered_versions(server_target(settings), model.name)
    succeeded = list(
        session.scalars(
            select(Run)
            .where(Run.model_id == model.id, Run.state == SUCCEEDED)
            .order_by(Run.finished_at, Run.id)
        )
    )
    runs = {run.registered_version: run for run in succeeded if run.registered_version}
    counted = counted_runs(session, succeeded)
    entries: list[schemas.LineageVersion] = []
    cumulative, units = 0.0, set()
    ordered = sorted(versions, key=lambda v: (v["tags"].get(ROLE_TAG) != "baseline", int(v["version"])))
    for version in ordered:
        run = runs.get(version["version"])
        if run is None and version["tags"].get(ROLE_TAG) == "candidate":
            continue  # no stored run claims it: its run lost the model's head (runs.take_head) or failed
        is_baseline = run is None and (
            version["tags"].get(ROLE_TAG) == "baseline" or version["version"] == model.baseline_version
        )
        accepted = run is not None and bool((run.result or {}).get("accepted"))
        if not (sees_all or is_baseline or accepted):
            continue
        entry: dict[str, Any] = {
            "version": version["version"],
            "uri": f"models:/{model.name}/{version['version']}",
            "role": "baseline" if is_baseline else "candidate",
            "created_at": version["created_at"],
            "tags": version["tags"],
        }
        if run is not None:
            result = run.result or {}
            entry.update(
                role="improvement" if accepted else "candidate",
                run_id=run.id,
                attestation_id=run.attestation_id,
                outcome=run.outcome,
                delta_one_score=run.delta_one_score,
                primary_metric=result.get("primary_metric"),
                gain=result.get("gain"),
                unit=result.get("unit"),
                delta_pp=result.get("delta_pp"),
                metric_deltas=result.get("metric_deltas"),
                counted=run.id in counted,
                contributions=[
                    schemas.LineageContribution(
                        id=c.id,
                        contributor_address=c.contributor_address,
                        weight_bps=link.weight_bps,
                        data_hash=_data_hash(session, c.dataset_id),
                        **contribution_value(session, run, position).model_dump(),
                    )
                    for position, (link, c) in enumerate(run_contributions(session, run))
                ],
            )
            gain = result.get("gain", result.get("delta_pp"))
            if accepted and run.id in counted and gain is not None:
                cumulative += float(gain)
                units.add(result.get("unit", "pp"))
        entries.append(schemas.LineageVersion(**entry))
    return schemas.Lineage(
        model=model.name,
        baseline_version=model.baseline_version,
        versions=entries,
        cumulative_improvement=round(cumulative, 6),
        unit=next(iter(units)) if len(units) == 1 else None,  # one primary metric: one unit
        cumulative_improvement_pp=round(cumulative, 6) if units <= {"pp"} else None,
    )


def _data_hash(session: Session, dataset_id: str) -> str | None:
    dataset = session.get(Dataset, dataset_id)
    return dataset.sha256 if dataset else None
