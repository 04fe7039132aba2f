"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hokusai import __version__
from hokusai.schemas import Health, Readiness
from hokusai.server.deps import Checked, StateDep
from hokusai.server.errors import error_response
from hokusai.server.readiness import probe_all

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness: the process answers", dependencies=[Checked])
async def health() -> Health:
    """Cheap: touches nothing but the event loop."""
    return Health(status="ok", version=__version__)


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness: the database and MLflow answer",
    dependencies=[Checked],
    responses={503: {"description": "A dependency is down; the failing part is named"}},
)
async def ready(state: StateDep) -> JSONResponse:
    """200 when every probe passes, else 503 in the error shape naming the failing part."""
    assert state.http is not None
    timeout = state.settings.ready_timeout_seconds
    results = await probe_all(state.engine, state.http, str(state.settings.mlflow_url), timeout)
    checks = {r.name: r.as_dict() for r in results}
    failed = [r for r in results if not r.ok]
    if failed:
        message = "not ready: " + "; ".join(f"{r.name}: {r.error}" for r in failed)
        return error_response(503, "not_ready", message, {"checks": checks})
    return JSONResponse({"status": "ready", "checks": checks})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response, dependencies=[Checked])
async def metrics(state: StateDep) -> Response:
    """The text exposition format of this app's registry."""
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
