"""``/api/v1/models/{name}/contributions``: a wallet submits data to a model; validated, stored by content."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hokusai.server.deps import ReadPrincipal, SessionDep, StateDep, WritePrincipal
from hokusai.server.services.contributions import (
    contribution_view,
    get_contribution,
    list_contributions,
    submit,
)
from hokusai.server.services.models import get_model, get_model_by_id
from hokusai.server.uploads import receive_request_file

router = APIRouter(prefix="/api/v1", tags=["contributions"])


@router.post(
    "/models/{name}/contributions",
    status_code=201,
    summary="Contribute a data file (multipart field `file`; admins may add `contributor_address`)",
    responses={
        200: {"description": "These bytes were contributed before"},
        403: {},
        409: {},
        413: {},
        422: {},
    },
)
async def contribute(name: str, request: Request, principal: WritePrincipal, state: StateDep) -> JSONResponse:
    """Validation and manifest in the answer; the contributor is the signed-in wallet."""

    def model_exists() -> None:
        with state.sessions() as session:
            get_model(session, name)

    await run_in_threadpool(model_exists)  # 404 before reading a byte of the upload
    upload = await receive_request_file(request, state.settings)

    def store() -> tuple[dict[str, Any], bool]:
        with state.sessions() as session:
            model = get_model(session, name)
            contribution, ingested = submit(
                session, state.store, model, upload.path, name=upload.filename, principal=principal,
                requested_contributor=upload.fields.get("contributor_address") or None,
            )  # fmt: skip
            session.commit()
            return contribution_view(session, contribution, model.name), ingested.created

    try:
        body, created = await run_in_threadpool(store)
    finally:
        upload.discard()
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/models/{name}/contributions", summary="A model's contributions")
def model_contributions(name: str, _principal: ReadPrincipal, session: SessionDep) -> dict[str, Any]:
    model = get_model(session, name)
    items = [contribution_view(session, c, model.name) for c in list_contributions(session, model)]
    return {"contributions": items}


@router.get("/contributions/{contribution_id}", summary="One contribution")
def read_contribution(contribution_id: str, _principal: ReadPrincipal, session: SessionDep) -> dict[str, Any]:
    contribution = get_contribution(session, contribution_id)
    model = get_model_by_id(session, contribution.model_id)
    return contribution_view(session, contribution, model.name)
