"""Evaluation runs: submission (idempotent, authorised per contribution), state changes, recovery, and the
model's head that an accepted run takes.

A run moves queued → running → succeeded | failed. Only a worker moves it to running (atomically,
so a run never executes twice, pinning the model's head as the baseline it evaluates), and a run whose
worker died is marked failed with that reason. An accepted run becomes the model's head only by a
compare-and-set on the model row in the transaction that stores its result (``take_head``): one
acceptance per baseline, and none inside the cooldown.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hokusai import schemas
from hokusai.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized, found
from hokusai.hashing import canonical_hash
from hokusai.pipeline.benchmark_spec import BenchmarkSpec
from hokusai.pipeline.options import EvaluationOptions, overrides_of
from hokusai.server import policy
from hokusai.server.db.engine import changed_rows
from hokusai.server.db.models import Contribution, Model, Run, RunContribution, utcnow
from hokusai.server.principal import Principal
from hokusai.server.services import benchmarks
from hokusai.server.services.access import contribution_subject, model_subject
from hokusai.server.services.audit import record_event
from hokusai.server.services.contributions import ensure_usable, hold_usable

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
FINISHED = (SUCCEEDED, FAILED)
ACCEPTED, SUPERSEDED, COOLDOWN = "accepted", "baseline_superseded", "cooldown"
CANDIDATE_FORMAT = "skops"  # every candidate the pipeline registers is a canonical skops file


SERVER_ONLY_RESULT_KEYS = (
    "report", "attestation", "out_dir", "files", "plots", "report_path", "attestation_path", "tracking_uri",
)  # fmt: skip
"""What a stored pipeline result holds that no client sees: the worker's file paths and the MLflow URL it
recorded at (the report and attestation are served at ``/attestations/{id}``, MLflow through the proxy)."""


RunOptions = overrides_of(
    EvaluationOptions,
    "RunOptions",
    "Overrides of the benchmark spec's evaluation options, for one run; only the model's owner (or an "
    "admin) sets them. Never the seed: it is the spec's, so evaluating the same contribution again "
    "cannot draw a luckier one.",
    leave_out=("seed",),
)


def submit_run(
    session: Session,
    principal: Principal,
    *,
    model: Model,
    contribution_ids: list[str],
    options: BaseModel,
    idempotency_key: str | None,
) -> tuple[Run, bool]:
    """Queue an evaluation under the model's current benchmark spec (which the run marks used); the same
    ``Idempotency-Key`` and request give back the same run."""
    if options.model_dump(exclude_none=True) and not policy.allows(
        principal, "model.write", model_subject(model)
    ):
        raise Forbidden(
            "only the model's owner (or an admin) sets evaluation options; leave options out",
            code="options_reserved",
            details={"options": sorted(options.model_dump(exclude_none=True))},
        )
    spec_row = benchmarks.current(session, model)
    # checked before anything is hashed: an option out of its bounds (or of canonical JSON's) is a 400
    effective = benchmarks.effective_options(benchmarks.load(spec_row), options)
    request_hash = canonical_hash(
        {"model": model.id, "contributions": contribution_ids, "options": options.model_dump()}
    )
    if idempotency_key:
        earlier = session.scalar(
            select(Run).where(Run.submitted_by == principal.id, Run.idempotency_key == idempotency_key)
        )
        if earlier is not None:
            if earlier.request_hash != request_hash:
                raise Conflict(
                    "this Idempotency-Key was used for a different request; use a new key",
                    code="idempotency_key_reused",
                )
            return earlier, False
    contributions = _authorised_contributions(session, principal, model, contribution_ids)
    refuse_in_cooldown(model, benchmarks.load(spec_row))
    run = Run(
        id=uuid.uuid4().hex,
        model_id=model.id,
        state=QUEUED,
        submitted_by=principal.id,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        options=effective.model_dump(mode="json"),
        baseline_version=model.baseline_version,
        benchmark_spec_id=spec_row.id,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(run)
            spec_row.used = True  # immutable from now on: a change makes a new version
            session.flush()
            for position, contribution in enumerate(contributions):
                session.add(
                    RunContribution(run_id=run.id, contribution_id=contribution.id, position=position)
                )
        record_event(
            session,
            "run_submitted",
            principal_id=principal.id,
            resource=f"run:{run.id}",
            details={"model": model.name, "contributions": contribution_ids},
        )
    except IntegrityError:  # a concurrent request with the same key won
        if not idempotency_key:
            raise
        return submit_run(
            session,
            principal,
            model=model,
            contribution_ids=contribution_ids,
            options=options,
            idempotency_key=idempotency_key,
        )
    return run, True


def refuse_in_cooldown(model: Model, spec: BenchmarkSpec, now: datetime | None = None) -> None:
    """409 ``cooldown`` with the time left while the model's cooldown since its last accepted run lasts:
    a run submitted now could not be accepted, so it is refused before anything is evaluated."""
    left = benchmarks.cooldown_left(model, spec, now or utcnow())
    if left is None:
        return
    assert model.accepted_at is not None  # a cooldown runs from the last acceptance
    ends = model.accepted_at + timedelta(seconds=spec.cooldown_seconds)
    error = Conflict(
        f"model {model.name} is in its cooldown after its last accepted run: {left / 3600:.2f} h left "
        f"(until {ends:%Y-%m-%d %H:%M} UTC); submit the run then",
        code="cooldown",
        details={
            "seconds_left": round(left),
            "ends_at": ends.isoformat(),
            "cooldown_seconds": spec.cooldown_seconds,
        },
    )
    error.headers["Retry-After"] = str(max(1, round(left)))
    raise error


def _authorised_contributions(
    session: Session, principal: Principal, model: Model, contribution_ids: list[str]
) -> list[Contribution]:
    if not contribution_ids:
        raise InvalidInput("a run needs at least one contribution id", code="no_contributions")
    if len(set(contribution_ids)) != len(contribution_ids):
        raise InvalidInput("a contribution is listed twice", code="duplicate_contribution")
    found: list[Contribution] = []
    for contribution_id in contribution_ids:
        contribution = session.get(Contribution, contribution_id)
        if contribution is None:
            raise NotFound(f"no contribution {contribution_id!r}", code="contribution_not_found")
        if contribution.model_id != model.id:
            raise InvalidInput(
                f"contribution {contribution_id!r} was submitted to another model", code="wrong_model"
            )
        policy.require(principal, "run.submit", contribution_subject(contribution, model))
        ensure_usable(contribution)
        found.append(contribution)
    hold_usable(session, found)  # to the end of the transaction: a withdrawal waits for the run, or wins
    return found


def counted_runs(session: Session, runs: list[Run]) -> set[str]:
    """The accepted runs that count, in the order given (oldest first): a contribution counts at most once
    per baseline version, so a run re-evaluating any contribution already counted adds nothing."""
    seen: dict[str | None, set[str]] = {}
    counted = set()
    for run in runs:
        if run.state != SUCCEEDED or not (run.result or {}).get("accepted"):
            continue
        contributions = {link.contribution_id for link, _ in run_contributions(session, run)}
        already = seen.setdefault(run.baseline_version, set())
        if contributions & already:
            continue
        already |= contributions
        counted.add(run.id)
    return counted


def issue_worker_token(session: Session, run_id: str) -> str:
    """A fresh secret the worker of ``run_id`` proves itself with (only its SHA-256 is stored)."""
    token = secrets.token_urlsafe(32)
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(worker_token_hash=hashlib.sha256(token.encode()).hexdigest())
    )
    return token


def check_worker_token(run: Run, token: str | None) -> None:
    """401 unless ``token`` is the one issued to this run's worker."""
    digest = hashlib.sha256((token or "").encode()).hexdigest()
    if not token or run.worker_token_hash is None or not hmac.compare_digest(digest, run.worker_token_hash):
        raise Unauthorized("this is not the worker token of that run", code="run_token_invalid")


def get_run(session: Session, run_id: str) -> Run:
    """The run ``run_id``; 404 otherwise."""
    return found(session.get(Run, run_id), NotFound(f"no run {run_id!r}", code="run_not_found"))


def list_runs(session: Session, model: Model) -> list[Run]:
    """A model's runs, newest first (callers filter them with ``policy.visible``)."""
    return list(session.scalars(select(Run).where(Run.model_id == model.id).order_by(Run.created_at.desc())))


def run_contributions(session: Session, run: Run) -> list[tuple[RunContribution, Contribution]]:
    """The run's contributions in submission order."""
    query = (
        select(RunContribution, Contribution)
        .join(Contribution, Contribution.id == RunContribution.contribution_id)
        .where(RunContribution.run_id == run.id)
        .order_by(RunContribution.position)
    )
    return [(link, contribution) for link, contribution in session.execute(query).all()]


def claim(session: Session, run_id: str, worker: str) -> bool:
    """queued → running for ``worker``, pinning the model's head (version, file hash and format, read in
    the same statement) as the baseline the run evaluates; False when another worker (or a failure) got
    there first."""

    def head(column: Any) -> Any:
        return select(column).where(Model.id == Run.model_id).scalar_subquery()

    pinned = {
        "baseline_version": head(Model.baseline_version),
        "baseline_hash": head(Model.model_hash),
        "baseline_format": head(Model.model_format),
    }
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.state == QUEUED)
        .values(state=RUNNING, worker=worker, started_at=utcnow(), progress={"step": "starting"}, **pinned)
    )
    return changed_rows(result) == 1


def take_head(
    session: Session,
    run: Run,
    *,
    version: str | None,
    model_hash: str | None,
    cooldown_seconds: int,
    now: datetime,
) -> str | None:
    """Make an accepted run's candidate (registered as ``version``, its file ``model_hash``) the model's
    head, in the caller's transaction: one UPDATE of the model row that succeeds only while the run's
    baseline is still the head and the cooldown since the last acceptance is over (compare-and-set, so two
    concurrent runs never both take one head, on SQLite as on PostgreSQL). Returns None when it won, else
    why not: ``baseline_superseded`` or ``cooldown``. A run without a registered candidate (a sampled
    estimate) restarts the cooldown but leaves the head where it is."""
    values: dict[str, Any] = {"accepted_at": now}
    if version is not None:
        values.update(baseline_version=version, model_hash=model_hash, model_format=CANDIDATE_FORMAT)
    conditions = [Model.id == run.model_id, Model.baseline_version == run.baseline_version]
    if cooldown_seconds > 0:
        ended = now - timedelta(seconds=cooldown_seconds)
        conditions.append(or_(Model.accepted_at.is_(None), Model.accepted_at <= ended))
    result = session.execute(
        update(Model).where(*conditions).values(**values).execution_options(synchronize_session=False)
    )
    model = session.get(Model, run.model_id)
    assert model is not None
    session.refresh(model)  # what the winner (this run or another) left
    if changed_rows(result) == 1:
        return None
    return SUPERSEDED if model.baseline_version != run.baseline_version else COOLDOWN


def set_progress(session: Session, run_id: str, progress: dict[str, Any]) -> None:
    """Record how far a running run got."""
    session.execute(update(Run).where(Run.id == run_id, Run.state == RUNNING).values(progress=progress))


def fail(session: Session, run_id: str, code: str, reason: str) -> bool:
    """Mark an unfinished run failed with a readable ``reason``; False if it had already finished."""
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.state.in_((QUEUED, RUNNING)))
        .values(state=FAILED, error_code=code, error=reason[:4000], finished_at=utcnow())
    )
    if changed_rows(result) == 1:
        record_event(
            session, "run_finished", resource=f"run:{run_id}", reason=code[:40], details={"state": FAILED}
        )
    return changed_rows(result) == 1


def worker_exited(session: Session, run_id: str, code: int) -> None:
    """A local worker process ended: a run it left unfinished is failed with the exit code as the reason."""
    if code == 0:
        fail(session, run_id, "worker_incomplete", "the run's worker exited without recording a result")
    else:
        fail(
            session,
            run_id,
            "worker_died",
            f"the run's worker process exited with code {code}; see the run log",
        )


def recover_orphans(session: Session, is_alive: Any) -> list[str]:
    """Runs left ``running`` by a worker that no longer exists are marked failed; returns their ids."""
    orphaned = []
    for run in session.scalars(select(Run).where(Run.state == RUNNING)).all():
        if not run.worker or not is_alive(run.worker):
            reason = (
                f"the worker running it ({run.worker or 'unknown'}) died before it finished; submit it again"
            )
            if fail(session, run.id, "worker_died", reason):
                orphaned.append(run.id)
    return orphaned


def queued_runs(session: Session) -> list[str]:
    """Runs waiting for a worker, oldest first (re-queued when the API starts)."""
    return list(session.scalars(select(Run.id).where(Run.state == QUEUED).order_by(Run.created_at)))


def client_result(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored result without what only the server knows (``SERVER_ONLY_RESULT_KEYS``): results stored
    before they were left out at the source are shown the same way."""
    if result is None:
        return None
    return {key: value for key, value in result.items() if key not in SERVER_ONLY_RESULT_KEYS}


def run_view(session: Session, run: Run) -> schemas.Run:
    """A run as a client sees it: state, progress, timings and, when done, the result."""
    model = session.get(Model, run.model_id)
    duration = (
        (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
    )
    return schemas.Run(
        id=run.id,
        model=model.name if model else None,
        state=run.state,
        progress=run.progress,  # validated into RunProgress
        options=run.options,
        benchmark_spec_id=run.benchmark_spec_id,
        contributions=[contribution.id for _, contribution in run_contributions(session, run)],
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=duration,
        outcome=run.outcome,
        delta_one_score=run.delta_one_score,
        result=client_result(run.result),  # validated into RunResult
        attestation_id=run.attestation_id,
        mlflow_run_id=run.mlflow_run_id,
        registered_version=run.registered_version,
        error=schemas.RunError(code=run.error_code, message=run.error) if run.state == FAILED else None,
    )
