"""``/api/v1/runs``: submit an evaluation (202, ``Idempotency-Key`` honoured), follow it, read its result;
and the run worker's signing endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from hokusai import schemas
from hokusai.server import policy
from hokusai.server.body_schema import METRIC_FOR_TASK, semantic_rules
from hokusai.server.deps import Caller, Checked, SessionDep, StateDep
from hokusai.server.services.access import run_subject
from hokusai.server.services.mint import mint_request_for_run
from hokusai.server.services.models import get_model, get_model_by_id
from hokusai.server.services.runs import (
    RunOptions,
    get_run,
    issue_worker_token,
    list_runs,
    run_view,
    submit_run,
)
from hokusai.server.services.signing import sign_run_document

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


class RunRequest(schemas.RequestBody):
    """Which contributions to evaluate against which model; options are the model owner's to set."""

    model: str = Field(min_length=1, max_length=128)
    contributions: list[str] = Field(min_length=1, max_length=100, json_schema_extra={"uniqueItems": True})
    options: RunOptions = Field(default_factory=RunOptions)  # type: ignore[valid-type]


@router.post(
    "",
    status_code=202,
    response_model=schemas.Run,
    summary="Submit an evaluation run",
    openapi_extra=semantic_rules(METRIC_FOR_TASK),
    responses={
        200: {"model": schemas.Run, "description": "This Idempotency-Key and body were submitted before"}
    },
)
def submit(
    body: RunRequest,
    principal: Caller,
    session: SessionDep,
    state: StateDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """202 with the queued run; the same ``Idempotency-Key`` and body give back the same run (200)."""
    model = get_model(session, body.model)
    run, created = submit_run(
        session, principal, model=model, contribution_ids=body.contributions, options=body.options,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    session.commit()
    if created and state.runner is not None:
        token = issue_worker_token(session, run.id)
        session.commit()
        state.runner.submit(run.id, token)
    headers = {"Location": f"/api/v1/runs/{run.id}"}
    return JSONResponse(
        run_view(session, run).model_dump(mode="json"), status_code=202 if created else 200, headers=headers
    )


@router.get("", response_model=schemas.RunList, summary="A model's runs you may read, newest first")
def model_runs(
    principal: Caller,
    session: SessionDep,
    model: Annotated[str, Query(min_length=1, max_length=128, description="The model's name")],
) -> schemas.RunList:
    """The owner (and admins) see every run of the model; a wallet sees the runs it submitted or whose
    contributions are its own."""
    found = get_model(session, model)
    readable = policy.visible(
        principal, "run.read", ((run_subject(session, run, found), run) for run in list_runs(session, found))
    )
    return schemas.RunList(runs=[run_view(session, run) for run in readable])


@router.get("/{run_id}", response_model=schemas.Run, summary="A run's state, progress, timings and result")
def read_run(run_id: str, principal: Caller, session: SessionDep) -> schemas.Run:
    run = get_run(session, run_id)
    policy.require(principal, "run.read", run_subject(session, run, get_model_by_id(session, run.model_id)))
    return run_view(session, run)


@router.get(
    "/{run_id}/mint-request",
    response_model=schemas.MintRequest,
    summary="An accepted run's signed EIP-712 mint request and submitMintRequest calldata (model owner)",
)
def read_mint_request(
    run_id: str, principal: Caller, session: SessionDep, state: StateDep
) -> schemas.MintRequest:
    """``{domain, types, primaryType, message, typedDataDigest, signatures, signerAddresses,
    submitCalldata}``; 409 ``stale_baseline`` when another mint moved the model's weight head."""
    state.signer()  # the attesters, loaded once
    assert state.attesters is not None
    run = get_run(session, run_id)
    request = mint_request_for_run(session, state.settings, state.attesters, principal, run)
    session.commit()  # the audit row
    return schemas.MintRequest.model_validate(request)


@router.post(
    "/{run_id}/sign",
    response_model=schemas.Signed,
    summary="The run worker asks the platform to sign its attestation",
    dependencies=[Checked],
)
def sign(
    run_id: str,
    body: schemas.SignRequest,
    session: SessionDep,
    state: StateDep,
    x_hokusai_run_token: Annotated[str | None, Header(max_length=200)] = None,
) -> schemas.Signed:
    """Only the worker of a running run (its one-run token) gets a signature, and only for a document that
    describes that run: the registered model file, the model's data, the run's contributions and options."""
    document = sign_run_document(
        session, state.signer(), run_id, x_hokusai_run_token, body.document, body.report
    )
    session.commit()
    return schemas.Signed(attestation=schemas.AttestationDocument.model_validate(document))
