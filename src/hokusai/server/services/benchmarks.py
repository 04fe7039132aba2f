"""Benchmark specs on the platform: each model's versioned evaluation contract (``BenchmarkSpec``).

Version 1 is derived at registration (the owner may set any field); a change to a spec no run used edits
it, a change to one a run used makes the next version, which becomes the model's current spec. Runs are
evaluated under the current spec when submitted, and a run marks it used (immutable from then on).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hokusai import schemas
from hokusai.data.schema import Schema
from hokusai.errors import Conflict, InvalidInput, NotFound, found
from hokusai.pipeline.benchmark_spec import BenchmarkSpec
from hokusai.pipeline.options import EvaluationOptions, options_error, overrides_of
from hokusai.server import policy
from hokusai.server.db.models import BenchmarkSpecRow, Dataset, Model, utcnow
from hokusai.server.principal import Principal
from hokusai.server.services.access import benchmark_subject, dataset_subject
from hokusai.server.services.audit import record_event

SpecFields = overrides_of(
    BenchmarkSpec,
    "SpecFields",
    "Benchmark spec fields to set (left out: derived at registration, kept on a change).",
    leave_out=("target_column", "benchmark_sha256"),  # the model's target; the hash is the dataset's
)


class SpecChange(SpecFields):  # type: ignore[misc,valid-type]
    """A change to a model's benchmark spec; ``benchmark_dataset_id`` pins another benchmark (yours)."""

    benchmark_dataset_id: str | None = Field(None, min_length=1, max_length=64)


class SpecCreate(SpecChange):
    """A new version of ``model``'s benchmark spec (the current one with these fields changed)."""

    model: str = Field(min_length=1, max_length=128)


def _checked(values: dict[str, Any]) -> BenchmarkSpec:
    try:
        return BenchmarkSpec.model_validate(values)
    except ValidationError as exc:
        raise options_error(exc) from None


def task_of(model_type: str, train: Dataset, target: str) -> str:
    """Regression for a regressor; else multiclass when the training data has more than two labels."""
    if model_type == "regression":
        return "regression"
    labels = (train.manifest.get("unique_counts") or {}).get(target)
    return "multiclass" if labels is not None and labels > 2 else "binary"


def derive(
    *,
    model_type: str,
    target: str,
    train: Dataset,
    benchmark: Dataset,
    schema: Schema,
    fields: BaseModel | None,
) -> BenchmarkSpec:
    """Version 1 of a model's spec: its registration's target, task, benchmark and data schema (no extra
    columns), the default rules, and whatever the owner set in ``fields``."""
    values: dict[str, Any] = {
        "task": task_of(model_type, train, target),
        "target_column": target,
        "benchmark_sha256": benchmark.sha256,
        "contribution_schema": schema.model_copy(update={"label": target, "allow_extra_columns": False}),
    }
    if fields is not None:
        values.update(fields.model_dump(exclude_none=True, exclude={"benchmark_dataset_id"}))
    return _checked(values)


def load(row: BenchmarkSpecRow) -> BenchmarkSpec:
    """The stored spec, checked."""
    return BenchmarkSpec.model_validate(row.spec)


def add_version(
    session: Session, model: Model, spec: BenchmarkSpec, benchmark_dataset_id: str, created_by: str
) -> BenchmarkSpecRow:
    """Store ``spec`` as the model's next version and make it current."""
    latest = session.scalar(
        select(BenchmarkSpecRow.version)
        .where(BenchmarkSpecRow.model_id == model.id)
        .order_by(BenchmarkSpecRow.version.desc())
        .limit(1)
    )
    row = BenchmarkSpecRow(
        id=uuid.uuid4().hex,
        model_id=model.id,
        version=(latest or 0) + 1,
        spec=spec.model_dump(mode="json"),
        benchmark_dataset_id=benchmark_dataset_id,
        used=False,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    model.benchmark_spec_id = row.id
    model.benchmark_dataset_id = benchmark_dataset_id
    return row


def current(session: Session, model: Model) -> BenchmarkSpecRow:
    """The model's current spec."""
    row = session.get(BenchmarkSpecRow, model.benchmark_spec_id) if model.benchmark_spec_id else None
    if row is None:
        raise NotFound(f"model {model.name!r} has no benchmark spec", code="benchmark_spec_not_found")
    return row


def get_spec(session: Session, spec_id: str) -> BenchmarkSpecRow:
    """The spec version ``spec_id``; 404 otherwise."""
    return found(
        session.get(BenchmarkSpecRow, spec_id),
        NotFound(f"no benchmark spec {spec_id!r}", code="benchmark_spec_not_found"),
    )


def list_specs(session: Session, model: Model | None = None) -> list[BenchmarkSpecRow]:
    """Every spec version (of ``model``), by model and version."""
    query = select(BenchmarkSpecRow).order_by(BenchmarkSpecRow.model_id, BenchmarkSpecRow.version)
    if model is not None:
        query = query.where(BenchmarkSpecRow.model_id == model.id)
    return list(session.scalars(query))


def change(
    session: Session, principal: Principal, model: Model, body: SpecChange, *, base_id: str | None = None
) -> tuple[BenchmarkSpecRow, bool]:
    """Apply ``body`` to the model's current spec (``base_id``, when given, must be it): in place while no
    run used it, else as the next version. Returns the spec and whether a version was created."""
    row = current(session, model)
    policy.require(principal, "benchmark.write", benchmark_subject(row, model))
    if base_id is not None and base_id != row.id:
        raise Conflict(
            f"spec {base_id} is not model {model.name!r}'s current spec ({row.id}, version {row.version}); "
            "change the current one",
            code="spec_superseded",
        )
    values = {**row.spec, **body.model_dump(exclude_none=True, exclude={"benchmark_dataset_id", "model"})}
    dataset_id = row.benchmark_dataset_id
    if body.benchmark_dataset_id is not None:
        dataset = session.get(Dataset, body.benchmark_dataset_id)
        if dataset is None or not policy.allows(principal, "dataset.read", dataset_subject(dataset)):
            raise NotFound(f"no dataset {body.benchmark_dataset_id!r}", code="dataset_not_found")
        if model.target_column not in dataset.columns:
            raise InvalidInput(
                f"the target column {model.target_column!r} is not in that benchmark", code="target_missing"
            )
        dataset_id, values["benchmark_sha256"] = dataset.id, dataset.sha256
    spec = _checked(values)
    if spec == load(row) and dataset_id == row.benchmark_dataset_id:
        return row, False
    changed = sorted(body.model_dump(exclude_none=True, exclude={"model"}))
    if row.used:
        row, created = add_version(session, model, spec, dataset_id, principal.id), True
    else:
        row.spec, row.benchmark_dataset_id, created = spec.model_dump(mode="json"), dataset_id, False
        model.benchmark_dataset_id = dataset_id
    record_event(
        session,
        "benchmark_spec_changed",
        principal_id=principal.id,
        resource=f"benchmark:{row.id}",
        details={"model": model.name, "version": row.version, "fields": changed},
    )
    return row, created


def effective_options(spec: BenchmarkSpec, overrides: BaseModel) -> EvaluationOptions:
    """The spec's options with a run's ``overrides`` (``None`` fields keep the spec's), checked."""
    try:
        return EvaluationOptions.model_validate(
            {**spec.options().model_dump(), **overrides.model_dump(exclude_none=True)}
        )
    except ValidationError as exc:
        raise options_error(exc) from None


def cooldown_left(model: Model, spec: BenchmarkSpec, now: datetime) -> float | None:
    """Seconds until the cooldown since the model's last acceptance (``accepted_at``, set with its head by
    ``runs.take_head``) ends (None: not cooling down)."""
    if model.accepted_at is None or spec.cooldown_seconds == 0:
        return None
    left = (model.accepted_at + timedelta(seconds=spec.cooldown_seconds) - now).total_seconds()
    return left if left > 0 else None


def spec_view(session: Session, row: BenchmarkSpecRow) -> schemas.Benchmark:
    """One spec version as a client sees it."""
    model = session.get(Model, row.model_id)
    spec = load(row)
    return schemas.Benchmark(
        id=row.id,
        model=model.name if model else None,
        version=row.version,
        current=model is not None and model.benchmark_spec_id == row.id,
        used=row.used,
        hash=spec.canonical_hash(),
        benchmark_dataset_id=row.benchmark_dataset_id,
        spec=spec.model_dump(mode="json"),
        created_by=row.created_by,
        created_at=row.created_at,
    )
