"""``GET /api/v1/me``: who the credential belongs to."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hokusai.schemas import Me
from hokusai.server.deps import Caller
from hokusai.server.principal import SCOPES

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
