"""Execute one stored run: ``hokusai worker run RUN_ID`` (a local child process or an ECS task).

Claims the run (queued → running, atomically), fetches its data from the pipeline-data store,
runs the evaluation pipeline against the model's registered baseline (its file checked against the hash
recorded at registration before it loads), and records the outcome and the contributors' weights. The
worker holds no signing key: it sends the unsigned attestation to the platform (``HOKUSAI_SIGNER_URL``,
with the one-run token ``HOKUSAI_RUN_TOKEN`` it was started with), which checks it against the run and
signs it. Any failure is recorded with a readable reason; a failed run stores no attestation.

Process lifecycle: a local worker dies with the API that started it (``hokusai.lifeline``: SIGKILL when its
parent goes) and checks its parent is still there before it records anything, so a worker whose API died
records no result; the next API start fails the run it left ``running``. Its log lines (the run log) say
which step it reached; a run that loses MLflow fails with ``mlflow_unavailable``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

from hokusai import lifeline
from hokusai.attestation.document import Sealer
from hokusai.config import Settings
from hokusai.errors import HokusaiError, ServiceUnavailable
from hokusai.server.db import create_db_engine, session_factory
from hokusai.server.db.models import Attestation, Dataset, utcnow
from hokusai.server.db.models import Principal as PrincipalRow
from hokusai.server.jobs import local_worker_id
from hokusai.server.services import benchmarks, runs, webhooks
from hokusai.server.services.audit import record_event
from hokusai.server.services.models import get_model_by_id
from hokusai.storage import BlobStore
from hokusai.tracking.registry import model_experiment
from hokusai.tracking.target import UNAVAILABLE, server_answers

log = logging.getLogger("hokusai.worker")
PROGRESS_INTERVAL_SECONDS = 0.5
TOKEN_ENV = "HOKUSAI_RUN_TOKEN"
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
    """``ecs:<task arn>`` in an ECS task (task metadata endpoint), else ``local:<host>:<pid>``."""
    metadata = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if metadata:
        try:
            return "ecs:" + httpx.get(f"{metadata}/task", timeout=2).json()["TaskARN"]
        except (httpx.HTTPError, KeyError, ValueError):
            log.warning("could not read the ECS task ARN; recording a local worker id")
    return local_worker_id()


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
    baseline_version = run.baseline_version or model.baseline_version
    spec = PipelineSpec(
        baseline=f"models:/{model.name}/{baseline_version}",
        train=local(model.train_dataset_id),
        benchmark=local(spec_row.benchmark_dataset_id),
        contributions=tuple(Contribution(local(c.dataset_id), c.contributor_address) for _, c in linked),
        target=contract.target_column,
        **{name: getattr(options, name) for name in EvaluationOptions.model_fields},
        task=contract.task,
        benchmark_spec=contract,
        spec_id=spec_row.id,
        spec_version=spec_row.version,
        cooldown_left_seconds=benchmarks.cooldown_left(session, model, contract, utcnow()),
        register=True,
        model_name=model.name,
        out_dir=settings.data_dir / "runs" / run_id,
        baseline_hash=model.model_hash if baseline_version == model.baseline_version else None,
        baseline_format=model.model_format,
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
    summary = json.loads(json.dumps(result.to_dict(), default=str))
    for key in ("report", "attestation", "out_dir", "files", "plots"):
        summary.pop(key, None)
    stored = session.get(Attestation, result.pipeline_run_id) if result.attestation is not None else None
    if stored is not None and result.attestation is not None and stored.run_id == run.id:
        section = result.attestation["attestation"]
        if (section["hash_tree_root"], section["signature_blob"]) == (
            stored.document["attestation"]["hash_tree_root"],
            stored.document["attestation"]["signature_blob"],
        ):  # the same signed content, now with the MLflow ids recording added (they are not signed)
            stored.document = result.attestation
    weights = {c.data_hash: c.weight_bps for c in result.contributors}
    for link, contribution in linked:
        dataset = session.get(Dataset, contribution.dataset_id)
        link.weight_bps = weights.get(dataset.sha256) if dataset else None
    run.state = runs.SUCCEEDED
    run.outcome = result.outcome
    run.delta_one_score = result.delta_one_score
    run.result = summary
    run.attestation_id = result.attestation_id
    run.mlflow_run_id = result.mlflow_run_id
    run.registered_version = result.registered_model_version
    run.progress = {"step": "done", "state": "finished"}
    run.finished_at = utcnow()
    record_event(
        session,
        "run_finished",
        resource=f"run:{run.id}",
        reason=result.outcome[:40],
        details={"state": runs.SUCCEEDED, "attestation_id": result.attestation_id},
    )
    if result.outcome == "accepted":  # its event and deliveries commit with the result, or neither does
        webhooks.record_accepted(session, run, model)
    abandon_if_orphaned(run_id)  # the session is rolled back: nothing of the result is recorded
    session.commit()
