"""Execute one stored run: ``hokusai worker run RUN_ID`` (a local child process or an ECS task).

Claims the run (queued → running, atomically), fetches its data from the pipeline-data store,
runs the evaluation pipeline against the model's head pinned by the claim (its file checked against the
hash pinned with it before it loads), and records the outcome and the contributors' weights. The
worker holds no signing key: it sends the unsigned attestation to the platform (``HOKUSAI_SIGNER_URL``,
with the one-run token ``HOKUSAI_RUN_TOKEN`` it was started with), which checks it against the run and
signs it. Any failure is recorded with a readable reason; a failed run stores no attestation.

The result is stored in one transaction (``record_result``): an accepted run takes the model's head by a
compare-and-set (``runs.take_head``: its baseline must still be the head and the cooldown over), and only
then are its attestation, its ``deltaone.accepted`` event and the new head written, together. A run that
lost the head is stored as succeeded with outcome ``baseline_superseded`` or ``cooldown``, without an
attestation (the signed document says "accepted", which the platform did not grant), and the candidate
version it registered in MLflow is deleted again (MLflow is outside the transaction: the lineage shows only
versions a stored run claims, so a version whose deletion failed never shows either).

Start-up: the local runner keeps a worker started ahead of the run (``standby``): it has already imported
what a run needs (scikit-learn, pandas, MLflow, skops, the pipeline) and loaded its settings when it is handed
a run on its standard input, so a platform run does not pay the interpreter's start-up and imports.

Process lifecycle: a local worker dies with the API that started it (``hokusai.lifeline``: SIGKILL when its
parent goes) and checks its parent is still there before it records anything, so a worker whose API died
records no result; the next API start fails the run it left ``running``. Its log lines (the run log) say
which step it reached; a run that loses MLflow fails with ``mlflow_unavailable``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import select
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.orm import Session

from hokusai import lifeline
from hokusai.attestation.document import Sealer
from hokusai.config import Settings
from hokusai.errors import HokusaiError, ServiceUnavailable
from hokusai.server.db import create_db_engine, session_factory
from hokusai.server.db.models import Dataset, Model, Run, utcnow
from hokusai.server.db.models import Principal as PrincipalRow
from hokusai.server.jobs import WORKER_CONTAINER_ENV, local_worker_id
from hokusai.server.services import attestations, benchmarks, runs, webhooks
from hokusai.server.services.audit import record_event
from hokusai.server.services.contributions import sole_holder
from hokusai.server.services.models import get_model_by_id
from hokusai.storage import BlobStore
from hokusai.tracking.registry import erase_candidate, model_experiment, server_target, withdraw_candidate
from hokusai.tracking.target import UNAVAILABLE, server_answers

if TYPE_CHECKING:
    from hokusai.pipeline.spec import PipelineResult

log = logging.getLogger("hokusai.worker")
PROGRESS_INTERVAL_SECONDS = 0.5
TOKEN_ENV = "HOKUSAI_RUN_TOKEN"
# What a standby worker imports before it is handed a run: the modules a run loads (benchmarks/startup.py
# --part platform measures what is left; tests/integration/pipeline/test_startup_imports.py checks that a run
# imports no installed distribution's package for the first time).
STANDBY_PRELOAD = (
    "hokusai.pipeline.run", "hokusai.pipeline.options", "hokusai.pipeline.spec", "hokusai.pipeline.steps",
    "hokusai.tracking.models", "hokusai.tracking.model_files", "hokusai.tracking.registry",
    "hokusai.evaluation.plots", "mlflow.sklearn", "mlflow.tracking", "skops.io", "sklearn.ensemble",
    "sklearn.linear_model", "sklearn.neighbors", "matplotlib.pyplot", "PIL.PngImagePlugin",
    "eth_account.messages", "coincurve", "mlflow.tracking.request_header.registry", "httpcore", "h11",
)  # fmt: skip
SIGN_TIMEOUT_SECONDS = 60.0
ORPHANED_EXIT_CODE = 3


def abandon_if_orphaned(run_id: str) -> None:
    """Exit without recording anything when the API that started this worker is gone."""
    if not lifeline.parent_alive():
        log.warning("run %s: the API that started this worker is gone; exiting without recording", run_id)
        raise SystemExit(ORPHANED_EXIT_CODE)


def remote_sealer(signer_url: str, run_id: str, token: str) -> Sealer:
    """A ``Sealer`` that asks the platform to sign this run's document (the worker has no key)."""

    def seal(document: Any, report: Any) -> dict[str, Any]:
        try:
            answer = httpx.post(
                f"{signer_url.rstrip('/')}/api/v1/runs/{run_id}/sign",
                json={"document": document, "report": report},
                headers={"X-Hokusai-Run-Token": token},
                timeout=SIGN_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"the platform signer at {signer_url} is not reachable: {exc}", code="signer_unavailable"
            ) from None
        if answer.status_code != 200:
            error = (
                answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
            ).get("error") or {}
            failure = HokusaiError(error.get("message") or f"the signer answered {answer.status_code}")
            failure.code = error.get("code") or "signing_refused"
            raise failure
        return answer.json()["attestation"]

    return seal


def worker_identity() -> str:
    """``ecs:<task arn>`` in an ECS task (task metadata endpoint), ``container:<name>`` in a run container
    (``ContainerRunner``), else ``local:<host>:<pid>``."""
    container = os.environ.get(WORKER_CONTAINER_ENV)
    if container:
        return f"container:{container}"
    metadata = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if metadata:
        try:
            return "ecs:" + httpx.get(f"{metadata}/task", timeout=2).json()["TaskARN"]
        except (httpx.HTTPError, KeyError, ValueError):
            log.warning("could not read the ECS task ARN; recording a local worker id")
    return local_worker_id()


def standby() -> int:
    """A worker started ahead of its run (``LocalRunner``): it imports what a run needs, then executes the one
    run handed to it on stdin, a JSON line ``{"run_id", "token", "log"}``; its output goes to ``log`` from
    then on. Returns the exit code of ``hokusai worker run`` (0 succeeded, 1 failed); 0 without a run (its
    runner stopped)."""
    from hokusai.config import load_settings
    from hokusai.log import configure_logging

    lifeline.die_with_parent()  # it may wait for hours: gone with its API all that time
    for module in STANDBY_PRELOAD:
        if select.select([sys.stdin], [], [], 0)[0]:  # handed its run already: it imports the rest as it goes
            break
        importlib.import_module(module)
    settings = load_settings()
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    job = json.loads(line)
    if job.get("log"):
        _output_to(job["log"])
    os.environ[TOKEN_ENV] = job["token"]
    configure_logging(settings.log_level)
    state = execute_run(job["run_id"], settings)
    print(f"run {job['run_id']}: {state}", file=sys.stderr, flush=True)
    return 0 if state == runs.SUCCEEDED else 1


def _output_to(path: str) -> None:
    """Point this process's stdout and stderr (the file descriptors) at the end of ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def execute_run(run_id: str, settings: Settings) -> str:
    """Run ``run_id`` to completion; returns its final state (``succeeded`` or ``failed``)."""
    lifeline.die_with_parent()  # a local worker: gone with its API (no-op in an ECS task)
    engine = create_db_engine(str(settings.database_url))
    sessions = session_factory(engine)
    try:
        abandon_if_orphaned(run_id)
        worker = worker_identity()
        with sessions() as session:
            claimed = runs.claim(session, run_id, worker)
            session.commit()
            if not claimed:
                run = runs.get_run(session, run_id)
                log.info("run %s is %s; nothing to do", run_id, run.state)
                return run.state
        log.info("run %s claimed by %s", run_id, worker)
        try:
            with sessions() as session:
                _execute(session, run_id, settings)
            log.info("run %s succeeded", run_id)
            return runs.SUCCEEDED
        except HokusaiError as exc:
            reason, code = exc.message, exc.code
        except Exception as exc:  # recorded for the user; the traceback goes to the run log
            log.exception("run %s failed unexpectedly", run_id)
            reason, code = f"internal error ({type(exc).__name__}: {exc})", "internal_error"
        if code == "internal_error" and not server_answers(str(settings.mlflow_url)):
            reason = f"MLflow at {settings.mlflow_url} stopped answering during the run ({reason})"
            code = UNAVAILABLE
        log.error("run %s failed: %s", run_id, reason, extra={"code": code})
        abandon_if_orphaned(run_id)
        with sessions() as session:
            runs.fail(session, run_id, code, reason)
            session.commit()
        return runs.FAILED
    finally:
        engine.dispose()


def _execute(session: Session, run_id: str, settings: Settings) -> None:
    from hokusai.pipeline.options import EvaluationOptions
    from hokusai.pipeline.run import run_pipeline
    from hokusai.pipeline.spec import Contribution, PipelineSpec

    run = runs.get_run(session, run_id)
    model = get_model_by_id(session, run.model_id)
    store = BlobStore(
        str(settings.pipeline_data_root),
        s3_endpoint_url=settings.s3_endpoint_url,
        cache_dir=settings.data_dir / "cache",
    )

    def local(dataset_id: str) -> Path:
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None
        return store.local_path(dataset.storage_key)

    linked = runs.run_contributions(session, run)
    spec_row = (
        benchmarks.get_spec(session, run.benchmark_spec_id)
        if run.benchmark_spec_id
        else benchmarks.current(session, model)
    )
    contract = benchmarks.load(spec_row)
    options = EvaluationOptions.model_validate(run.options)  # the spec's, with the owner's overrides
    owner = session.get(PrincipalRow, model.owner_id)
    baseline_version = run.baseline_version or model.baseline_version  # pinned by the claim
    pinned = run.baseline_hash is not None or baseline_version == model.baseline_version
    spec = PipelineSpec(
        baseline=f"models:/{model.name}/{baseline_version}",
        train=local(model.train_dataset_id),
        benchmark=local(spec_row.benchmark_dataset_id),
        contributions=tuple(
            Contribution(local(c.dataset_id), c.contributor_address, c.terms_hash) for _, c in linked
        ),
        target=contract.target_column,
        **{name: getattr(options, name) for name in EvaluationOptions.model_fields},
        task=contract.task,
        benchmark_spec=contract,
        spec_id=spec_row.id,
        spec_version=spec_row.version,
        cooldown_left_seconds=benchmarks.cooldown_left(model, contract, utcnow()),
        register=True,
        model_name=model.name,
        out_dir=settings.data_dir / "runs" / run_id,
        baseline_hash=(run.baseline_hash or model.model_hash) if pinned else None,
        baseline_format=run.baseline_format or model.model_format,
        allow_pickle=bool(owner and owner.trusted_pickle),
        experiment=model_experiment(model.name),
    )
    last = 0.0

    def progress(event: Any) -> None:
        nonlocal last
        if event.state == "started":
            log.info("run %s: step %d/%d %s", run_id, event.index, event.total, event.step)
        now = time.monotonic()
        if event.state in ("started", "finished") or now - last >= PROGRESS_INTERVAL_SECONDS:
            last = now
            progress = {"step": event.step, "index": event.index, "total": event.total, "state": event.state}
            if event.planned is not None:  # work inside the step: valuation's retrain i of the budget
                progress.update(done=event.done, planned=event.planned)
            runs.set_progress(session, run_id, progress)
            session.commit()  # seen by the API at once (the run's own records are written at its end)

    token = os.environ.get(TOKEN_ENV, "")
    sealer = remote_sealer(str(settings.signer_url), run_id, token)
    tracking = settings.model_copy(update={"tracking_uri": settings.mlflow_url})
    result = run_pipeline(spec, tracking, progress, sealer)
    session.refresh(run)
    if run.state != runs.RUNNING:  # cancelled while it ran: a contribution was withdrawn, its data deleted
        shutil.rmtree(spec.out_dir or "", ignore_errors=True)
        erase_candidate(
            server_target(settings), model.name, result.registered_model_version, result.mlflow_run_id
        )
        raise HokusaiError(f"run {run_id} was cancelled while it ran ({run.error_code}); nothing is recorded")
    lost = record_result(session, run, model, result, contract.cooldown_seconds, linked)
    for _, contribution in linked:  # S3's age rule counts from the last evaluation, as the sweep does
        dataset = session.get(Dataset, contribution.dataset_id)
        if dataset is not None and sole_holder(session, dataset):
            try:
                store.mark_for_retention(dataset.storage_key)
            except HokusaiError:
                log.warning("run %s: could not restart the retention age of %s", run_id, dataset.storage_key)
    if lost is not None and result.registered_model_version is not None:
        try:  # MLflow is outside the transaction: the version is taken back after the result is stored
            withdraw_candidate(
                server_target(settings), model.name, result.registered_model_version,
                result.mlflow_run_id, lost,
            )  # fmt: skip
        except Exception:  # the lineage never shows it anyway (no stored run claims it)
            log.warning("run %s: could not delete its candidate version from MLflow", run_id, exc_info=True)


def record_result(
    session: Session,
    run: Run,
    model: Model,
    result: PipelineResult,
    cooldown_seconds: int,
    linked: list[Any],
) -> str | None:
    """Store the run's result in one transaction: the head (compare-and-set), the attestation, the weights,
    the run and its acceptance event commit together, or nothing does. Returns why an accepted evaluation
    lost the head (``baseline_superseded`` or ``cooldown``), else None."""
    summary = runs.client_result(json.loads(json.dumps(result.to_dict(), default=str)))
    assert summary is not None
    now = utcnow()
    outcome, attestation_id, version = result.outcome, None, result.registered_model_version
    lost = None
    if outcome == runs.ACCEPTED:
        candidate_hash = (result.attestation or {}).get("models", {}).get("new", {}).get("model_hash")
        lost = runs.take_head(
            session,
            run,
            version=version,
            model_hash=candidate_hash,
            cooldown_seconds=cooldown_seconds,
            now=now,
        )
    if lost is not None:
        outcome, version = lost, None
        summary.update(
            outcome=lost, accepted=False, evaluated_outcome=runs.ACCEPTED, attestation_id=None,
            registered_model_version=None, reason_text=_lost_reason(lost, run, model, cooldown_seconds, now),
        )  # fmt: skip
        if result.attestation_path is not None:  # the signed "accepted" is not the platform's word
            result.attestation_path.unlink(missing_ok=True)
    elif result.attestation is not None:
        attestation_id = attestations.store_attestation(session, run, result.attestation, result.report)
    weights = {c.data_hash: c.weight_bps for c in result.contributors}
    for link, contribution in linked:
        dataset = session.get(Dataset, contribution.dataset_id)
        link.weight_bps = weights.get(dataset.sha256) if dataset else None
    run.state = runs.SUCCEEDED
    run.outcome = outcome
    run.delta_one_score = result.delta_one_score
    run.result = summary
    run.attestation_id = attestation_id
    run.mlflow_run_id = result.mlflow_run_id
    run.registered_version = version
    run.progress = {"step": "done", "state": "finished"}
    run.finished_at = now
    record_event(
        session,
        "run_finished",
        resource=f"run:{run.id}",
        reason=outcome[:40],
        details={"state": runs.SUCCEEDED, "attestation_id": attestation_id, "evaluated": result.outcome},
    )
    if outcome == runs.ACCEPTED:  # its event and deliveries commit with the result, or neither does
        webhooks.record_accepted(session, run, model)
    abandon_if_orphaned(run.id)  # the session is rolled back: nothing of the result is recorded
    session.commit()
    return lost


def _lost_reason(lost: str, run: Run, model: Model, cooldown_seconds: int, now: Any) -> str:
    """Why an evaluation that would have been accepted was not, in words."""
    if lost == runs.SUPERSEDED:
        return (
            f"another run was accepted first: the model's head is version {model.baseline_version}, this run "
            f"evaluated version {run.baseline_version}; submit the contributions again to evaluate them "
            "against the head"
        )
    ends = model.accepted_at + timedelta(seconds=cooldown_seconds) if model.accepted_at else now
    left = max((ends - now).total_seconds(), 0.0)
    return f"another run was accepted within the cooldown ({cooldown_seconds} s): {left / 3600:.2f} h left"
