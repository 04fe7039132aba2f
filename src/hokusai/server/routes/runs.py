"""``/api/v1/runs``: submit an evaluation (202, ``Idempotency-Key`` honoured), follow it, read its result."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hokusai.server.deps import ReadPrincipal, SessionDep, StateDep, WritePrincipal
from hokusai.server.services.models import get_model
from hokusai.server.services.runs import RunOptions, get_run, run_view, submit_run

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


class RunRequest(BaseModel):
    """Which contributions to evaluate against which model, and how."""

    model: str = Field(min_length=1, max_length=128)
    contributions: list[str] = Field(min_length=1, max_length=100)
    options: RunOptions = Field(default_factory=RunOptions)


@router.post(
    "", status_code=202, summary="Submit an evaluation run", responses={200: {}, 403: {}, 404: {}, 409: {}}
)
def submit(
    body: RunRequest,
    principal: WritePrincipal,
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
        state.runner.submit(run.id)
    headers = {"Location": f"/api/v1/runs/{run.id}"}
    return JSONResponse(run_view(session, run), status_code=202 if created else 200, headers=headers)


@router.get("/{run_id}", summary="A run's state, progress, timings and result")
def read_run(run_id: str, _principal: ReadPrincipal, session: SessionDep) -> dict[str, Any]:
    return run_view(session, get_run(session, run_id))
