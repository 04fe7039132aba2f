"""``GET /api/v1/me``: who the credential belongs to; ``GET /api/v1/me/export``: all the platform holds
about it, as one zip archive."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from hokusai.schemas import Me
from hokusai.server.deps import Caller, StateDep
from hokusai.server.principal import SCOPES
from hokusai.server.services.export import Plan, plan_export, stream_archive
from hokusai.server.services.rights import Copies

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get("/me", response_model=Me, summary="The calling principal")
async def me(principal: Caller) -> JSONResponse:
    """Principal id, auth method (``api_key`` or ``wallet``), role, scopes, wallet address and key id.

    Built as a plain JSON response (the fields are already typed): this is the cheapest authenticated
    GET, the one the P4 benchmark measures.
    """
    return JSONResponse({
        "id": principal.id,
        "method": principal.method,
        "role": principal.role,
        "scopes": [scope for scope in SCOPES if scope in principal.scopes],
        "wallet_address": principal.wallet_address,
        "key_id": principal.key_id,
        "name": principal.name,
    })  # fmt: skip


@router.get(
    "/me/export",
    summary="Everything the platform holds about you, as one zip archive (streamed)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
                     "description": "A zip: index.json, your contributions and their files, runs, payouts, "
                     "audit rows"}},
)  # fmt: skip
async def export(principal: Caller, state: StateDep) -> StreamingResponse:
    """A wallet gets its contributions (files, manifests, where their raw data is), the runs that evaluated
    them, its payouts and the audit rows about it; an API-key principal its datasets, models and runs."""
    copies = Copies(state.store, state.settings)

    def plan() -> Plan:
        with state.sessions() as session:
            return plan_export(session, copies, principal)

    planned = await run_in_threadpool(plan)
    name = f"hokusai-export-{principal.wallet_address or principal.id}.zip"
    return StreamingResponse(
        stream_archive(state.sessions, copies, planned),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
