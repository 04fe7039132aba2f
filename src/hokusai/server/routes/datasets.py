"""``/api/v1/datasets``: upload a data file (a model's training data or benchmark); kept by content."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hokusai.server.deps import ReadPrincipal, SessionDep, StateDep, WritePrincipal
from hokusai.server.services.datasets import dataset_view, get_dataset, ingest
from hokusai.server.uploads import receive_request_file

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])


@router.post(
    "",
    status_code=201,
    summary="Upload a data file (multipart field `file`)",
    responses={200: {"description": "The same bytes were uploaded before"}, 413: {}, 422: {}},
)
async def upload_dataset(request: Request, principal: WritePrincipal, state: StateDep) -> JSONResponse:
    """Validate and store a CSV/TSV/JSON/JSONL/Parquet file; 201 when new, 200 when already stored."""
    upload = await receive_request_file(request, state.settings)

    def store() -> tuple[dict[str, Any], bool]:
        with state.sessions() as session:
            ingested = ingest(
                session, state.store, upload.path, name=upload.filename, principal_id=principal.id
            )
            session.commit()
            return {**dataset_view(ingested.dataset), "validation": ingested.validation}, ingested.created

    try:
        body, created = await run_in_threadpool(store)
    finally:
        upload.discard()
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/{dataset_id}", summary="A dataset's hash, manifest and stats")
def read_dataset(dataset_id: str, _principal: ReadPrincipal, session: SessionDep) -> dict[str, Any]:
    return dataset_view(get_dataset(session, dataset_id))
