"""Contributors' rights over their raw data: withdrawal, and deletion by retention.

Both end in one erasure (``erase``): every copy of a contribution's raw bytes goes (the pipeline-data
object, on S3 every version of it, and the local download cache), and so does what runs that were not
accepted made from its rows (their working folder under ``<data dir>/runs/<run id>``, their candidate model
in MLflow and its registered version); queued and running runs that would use it are cancelled. What stays
is the contributor's proof of payment: the data hash, the manifest (hashes and counts, no rows), the
attestations, and the model versions accepted runs trained on it (listed, not deleted: they are the model
owner's). The same bytes held by another live record (an owner's dataset, another contribution) stay, and
the contribution says so. Erasure is idempotent: a second call deletes nothing more and answers the same.

Retention: a raw contribution is deleted ``retention_days`` (the model's override, else
``HOKUSAI_RETENTION_DAYS``) after its last evaluation (its submission if never evaluated), never while a
run that uses it is queued or running. The API sweeps every ``HOKUSAI_RETENTION_SWEEP_SECONDS``; a dry run
lists what is due without deleting.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hokusai import schemas
from hokusai.config import Settings
from hokusai.server import policy
from hokusai.server.db.models import (
    BenchmarkSpecRow,
    Contribution,
    Dataset,
    Model,
    Run,
    RunContribution,
    utcnow,
)
from hokusai.server.principal import Principal
from hokusai.server.services import runs
from hokusai.server.services.access import contribution_subject
from hokusai.server.services.audit import record_event
from hokusai.server.services.contributions import contribution_view as base_view
from hokusai.storage import BlobStore
from hokusai.tracking.registry import erase_candidate, server_target

log = logging.getLogger("hokusai.rights")
WITHDRAWN, RETENTION = "withdrawn", "retention"
CANCELLED_CODE = "contribution_withdrawn"


@dataclass(frozen=True)
class Copies:
    """Where copies of raw data live: the pipeline-data store (with its cache), run folders, MLflow."""

    store: BlobStore
    settings: Settings

    def run_folder(self, run_id: str) -> str:
        return str(self.settings.data_dir / "runs" / run_id)


def _runs_of(session: Session, contribution: Contribution) -> list[Run]:
    query = (
        select(Run)
        .join(RunContribution, RunContribution.run_id == Run.id)
        .where(RunContribution.contribution_id == contribution.id)
        .order_by(Run.created_at)
    )
    return list(session.scalars(query))


def _still_held(session: Session, dataset: Dataset, contribution: Contribution) -> str | None:
    """Why the same bytes must stay for another record (None: nothing else holds them)."""
    rows = list(session.scalars(select(Dataset).where(Dataset.storage_key == dataset.storage_key)))
    ids = [row.id for row in rows]
    live = session.scalar(
        select(func.count())
        .select_from(Contribution)
        .where(
            Contribution.dataset_id.in_(ids),
            Contribution.id != contribution.id,
            Contribution.data_deleted_at.is_(None),
        )
    )
    if live:
        return (
            "the same bytes are another contribution's that is still stored (withdraw it too to delete them)"
        )
    behind_contributions = set(
        session.scalars(select(Contribution.dataset_id).where(Contribution.dataset_id.in_(ids)))
    )
    if any(row.id not in behind_contributions for row in rows):
        return "the same bytes were also uploaded as a dataset (a model's training data or benchmark)"
    used = session.scalar(
        select(func.count())
        .select_from(Model)
        .where((Model.train_dataset_id.in_(ids)) | (Model.benchmark_dataset_id.in_(ids)))
    ) or session.scalar(
        select(func.count())
        .select_from(BenchmarkSpecRow)
        .where(BenchmarkSpecRow.benchmark_dataset_id.in_(ids))
    )
    if used:
        return "the same bytes are a model's training data or benchmark"
    return None


def erase(
    session: Session, copies: Copies, contribution: Contribution, model: Model, reason: str
) -> schemas.Withdrawal:
    """Delete every copy of the contribution's raw bytes and what unaccepted runs made from them; cancel the
    runs that would still use it; record what stays and why. Idempotent (the caller commits)."""
    used = _runs_of(session, contribution)
    cancelled = []
    for run in used:
        if run.state in (runs.QUEUED, runs.RUNNING) and runs.fail(
            session, run.id, CANCELLED_CODE,
            f"contribution {contribution.id} was {reason} and its raw data deleted; the run cannot use it",
        ):  # fmt: skip
            cancelled.append(run.id)
    accepted = [run for run in used if run.outcome == runs.ACCEPTED]
    versions = [
        f"models:/{model.name}/{run.registered_version}" for run in accepted if run.registered_version
    ]
    dataset = session.get(Dataset, contribution.dataset_id)
    assert dataset is not None
    held = _still_held(session, dataset, contribution)
    if held is None:
        copies.store.delete(dataset.storage_key)
    target = server_target(copies.settings)
    for run in used:
        if run.outcome == runs.ACCEPTED:
            continue  # its folder and model are the accepted version's: what the attestation names
        shutil.rmtree(copies.run_folder(run.id), ignore_errors=True)
        if run.mlflow_run_id or run.registered_version:
            erase_candidate(target, model.name, run.registered_version, run.mlflow_run_id)
    reasons = [
        "the data hash and manifest (hashes and counts, no rows) identify what you contributed",
    ]
    attestations = sorted({run.attestation_id for run in used if run.attestation_id})
    if attestations:
        reasons.append("the attestations of runs that evaluated it are signed records of those evaluations")
    if versions:
        reasons.append(
            "accepted runs trained these model versions on it and paid you by their attestations; the "
            "versions are the model owner's and stay"
        )
    if held is not None:
        reasons.append(held)
    kept = schemas.DataKept(
        data_hash=dataset.sha256,
        manifest=True,
        attestations=attestations,
        model_versions=versions,
        raw_bytes_kept=held is not None,
        reasons=reasons,
    )
    if contribution.data_deleted_at is None:
        contribution.data_deleted_at = utcnow()
        contribution.data_deleted_reason = reason
        record_event(
            session,
            "contribution_data_deleted",
            wallet_address=contribution.contributor_address,
            reason=reason,
            resource=f"contribution:{contribution.id}",
            details={
                "data_hash": dataset.sha256,
                "cancelled_runs": cancelled,
                "raw_bytes_kept": held is not None,
            },
        )
    contribution.data_kept = kept.model_dump(mode="json")
    session.flush()
    return schemas.Withdrawal(
        contribution=contribution_view(session, contribution, model, copies.settings),
        cancelled_runs=cancelled,
        model_versions=versions,
        kept=kept,
    )


def lock(session: Session, contribution: Contribution) -> None:
    """Take the contribution's row lock for this transaction and re-read it (``SELECT … FOR UPDATE`` on
    PostgreSQL; on SQLite the erasure's first write takes the one writer's lock): a run submission in
    flight (``contributions.hold_usable``) commits first and its run is then found and cancelled, and one
    submitted later finds the contribution gone."""
    session.refresh(contribution, with_for_update=True)


def withdraw(
    session: Session, copies: Copies, principal: Principal, contribution: Contribution, model: Model
) -> schemas.Withdrawal:
    """The contributor (its wallet, its submitter, or an admin) withdraws it: its raw data is erased; the
    second call changes nothing and answers the same (the caller commits)."""
    policy.require(principal, "contribution.withdraw", contribution_subject(contribution, model))
    lock(session, contribution)
    if contribution.withdrawn_at is None:
        contribution.withdrawn_at = utcnow()
        record_event(
            session,
            "contribution_withdrawn",
            principal_id=principal.id,
            wallet_address=contribution.contributor_address,
            resource=f"contribution:{contribution.id}",
            details={"model": model.name},
        )
    return erase(session, copies, contribution, model, WITHDRAWN)


def retention_days(model: Model, settings: Settings) -> int:
    """Days the model's raw contributions are kept after their last evaluation."""
    return model.retention_days if model.retention_days is not None else settings.retention_days


def _clock(session: Session) -> list[tuple[Contribution, Model, datetime | None, int]]:
    """Each contribution whose raw data is stored, with its model, last evaluation and pending runs."""
    active = case((Run.state.in_((runs.QUEUED, runs.RUNNING)), 1), else_=0)
    last = (
        select(
            RunContribution.contribution_id.label("contribution_id"),
            func.max(Run.finished_at).label("last"),
            func.sum(active).label("active"),
        )
        .join(Run, Run.id == RunContribution.run_id)
        .group_by(RunContribution.contribution_id)
        .subquery()
    )
    query = (
        select(Contribution, Model, last.c.last, last.c.active)
        .join(Model, Model.id == Contribution.model_id)
        .outerjoin(last, last.c.contribution_id == Contribution.id)
        .where(Contribution.data_deleted_at.is_(None))
        .order_by(Contribution.created_at)
    )
    return [(c, m, _aware(at), int(active or 0)) for c, m, at, active in session.execute(query).all()]


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands an aggregate's timestamp back naive (it is UTC)."""
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def delete_after(
    session: Session, contribution: Contribution, model: Model, settings: Settings
) -> datetime | None:
    """When retention deletes the contribution's raw data (None: a run that uses it is pending)."""
    used = _runs_of(session, contribution)
    if any(run.state in (runs.QUEUED, runs.RUNNING) for run in used):
        return None
    finished = [run.finished_at for run in used if run.finished_at is not None]
    start = max([contribution.created_at, *finished])
    return start + timedelta(days=retention_days(model, settings))


def sweep(session: Session, copies: Copies, now: datetime, *, dry_run: bool) -> schemas.RetentionSweep:
    """Delete (or, in a dry run, list) the raw contributions past retention at ``now``; the caller commits."""
    items = []
    for contribution, model, last, active in _clock(session):
        if active:
            continue
        days = retention_days(model, copies.settings)
        due = max(contribution.created_at, last or contribution.created_at) + timedelta(days=days)
        if due > now:
            continue
        dataset = session.get(Dataset, contribution.dataset_id)
        assert dataset is not None
        if not dry_run:
            lock(session, contribution)  # a run submitted meanwhile keeps its data
            again = delete_after(session, contribution, model, copies.settings)
            if contribution.data_deleted_at is not None or again is None or again > now:
                continue
            erase(session, copies, contribution, model, RETENTION)
        items.append(
            schemas.RetentionItem(
                contribution_id=contribution.id, model=model.name,
                contributor_address=contribution.contributor_address, data_hash=dataset.sha256,
                last_evaluated_at=last, retention_days=days, due_at=due, deleted=not dry_run,
            )
        )  # fmt: skip
    return schemas.RetentionSweep(dry_run=dry_run, items=items)


def contribution_view(
    session: Session, contribution: Contribution, model: Model, settings: Settings
) -> schemas.Contribution:
    """A contribution as a client sees it, with where its raw data is and what stays once it is deleted."""
    view = base_view(session, contribution, model.name)
    deleted = contribution.data_deleted_at is not None
    data = schemas.ContributionData(
        state="deleted" if deleted else "stored",
        deleted_at=contribution.data_deleted_at,
        reason=contribution.data_deleted_reason,
        kept=schemas.DataKept.model_validate(contribution.data_kept) if contribution.data_kept else None,
        retention_days=retention_days(model, settings),
        delete_after=None if deleted else delete_after(session, contribution, model, settings),
    )
    return view.model_copy(update={"withdrawn_at": contribution.withdrawn_at, "data": data})
