"""``/api/v1/benchmarks``: read a model's benchmark specs; its owner changes the current one."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hokusai import schemas
from hokusai.server.body_schema import SPEC_RULES, semantic_rules
from hokusai.server.deps import Caller, SessionDep
from hokusai.server.services import benchmarks
from hokusai.server.services.benchmarks import SpecChange, SpecCreate
from hokusai.server.services.models import get_model, get_model_by_id

router = APIRouter(prefix="/api/v1/benchmarks", tags=["benchmarks"])


@router.get(
    "", response_model=schemas.BenchmarkList, summary="Benchmark spec versions, of one model with ?model=NAME"
)
def index(_principal: Caller, session: SessionDep, model: str | None = None) -> schemas.BenchmarkList:
    chosen = get_model(session, model) if model else None
    rows = benchmarks.list_specs(session, chosen)
    return schemas.BenchmarkList(benchmarks=[benchmarks.spec_view(session, row) for row in rows])


@router.post(
    "",
    status_code=201,
    response_model=schemas.Benchmark,
    summary="Change a model's current spec: a new version if a run used it (201), else in place (200)",
    openapi_extra=semantic_rules(*SPEC_RULES),
    responses={
        200: {
            "model": schemas.Benchmark,
            "description": "No run used the current spec: it was changed in place",
        }
    },
)
def create(body: SpecCreate, principal: Caller, session: SessionDep) -> JSONResponse:
    """The model's owner (or an admin) only; fields left out keep the current spec's values."""
    row, created = benchmarks.change(session, principal, get_model(session, body.model), body)
    session.commit()
    view = benchmarks.spec_view(session, row)
    return JSONResponse(
        view.model_dump(mode="json"),
        status_code=201 if created else 200,
        headers={"Location": f"/api/v1/benchmarks/{row.id}"},
    )


@router.get("/{spec_id}", response_model=schemas.Benchmark, summary="One benchmark spec version")
def read(spec_id: str, _principal: Caller, session: SessionDep) -> schemas.Benchmark:
    return benchmarks.spec_view(session, benchmarks.get_spec(session, spec_id))


@router.patch(
    "/{spec_id}",
    response_model=schemas.Benchmark,
    summary="Change the model's current spec (409 for an older version); a used one gets a new version",
    openapi_extra=semantic_rules(*SPEC_RULES),
)
def update(spec_id: str, body: SpecChange, principal: Caller, session: SessionDep) -> schemas.Benchmark:
    """The model's owner (or an admin) only; the answer is the spec now current."""
    row = benchmarks.get_spec(session, spec_id)
    changed, _ = benchmarks.change(
        session, principal, get_model_by_id(session, row.model_id), body, base_id=row.id
    )
    session.commit()
    return benchmarks.spec_view(session, changed)
