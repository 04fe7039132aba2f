"""``/api/v1/datasets``: an owner uploads a data file (training data or a benchmark); kept by content."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hokusai import schemas
from hokusai.server import policy
from hokusai.server.body_schema import DATA_RULES, semantic_rules
from hokusai.server.deps import Caller, SessionDep, StateDep
from hokusai.server.services.access import dataset_subject
from hokusai.server.services.datasets import dataset_view, get_dataset, ingest, uploaded_view
from hokusai.server.uploads import Stored, Upload, multipart_body, respond_to_upload

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])


@router.post(
    "",
    status_code=201,
    response_model=schemas.UploadedDataset,
    summary="Upload a data file (multipart field `file`)",
    openapi_extra={
        **multipart_body("file", "A CSV, TSV, JSON, JSONL or Parquet file"),
        **semantic_rules(*DATA_RULES),
    },
    responses={200: {"model": schemas.UploadedDataset, "description": "You uploaded the same bytes before"}},
)
async def upload_dataset(request: Request, principal: Caller, state: StateDep) -> JSONResponse:
    """Validate and store a CSV/TSV/JSON/JSONL/Parquet file; 201 when new, 200 when already yours."""

    def store(upload: Upload) -> Stored:
        with state.sessions() as session:
            ingested = ingest(
                session,
                state.store,
                upload.path,
                name=upload.filename,
                principal_id=principal.id,
                quota_bytes=state.settings.owner_storage_max_bytes,
                sha256=upload.sha256,
            )
            session.commit()
            state.store.clear_retention(ingested.dataset.storage_key)  # an owner's data: no age rule
            return uploaded_view(ingested), ingested.created

    return await respond_to_upload(request, state.settings, store)


@router.get("/{dataset_id}", response_model=schemas.Dataset, summary="A dataset's hash, manifest and stats")
def read_dataset(dataset_id: str, principal: Caller, session: SessionDep) -> schemas.Dataset:
    dataset = get_dataset(session, dataset_id)
    policy.require(principal, "dataset.read", dataset_subject(dataset))
    return dataset_view(dataset)
