"""``/api/v1/attestations``: the signed documents, their verification, and contributor impact."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hokusai.server.deps import ReadPrincipal, SessionDep, SettingsDep
from hokusai.server.services.attestations import contributor_impact, get_attestation, stored_report

router = APIRouter(prefix="/api/v1", tags=["attestations"])


class VerifyRequest(BaseModel):
    """A document to verify; its evaluation report is looked up here when it is not sent."""

    attestation: dict[str, Any]
    report: dict[str, Any] | None = Field(None, description="The companion evaluation_report.json")


@router.get("/attestations/{attestation_id}", summary="A signed attestation document")
def read_attestation(attestation_id: str, _principal: ReadPrincipal, session: SessionDep) -> dict[str, Any]:
    return get_attestation(session, attestation_id).document


@router.get("/attestations/{attestation_id}/report", summary="The evaluation report behind an attestation")
def read_report(attestation_id: str, _principal: ReadPrincipal, session: SessionDep) -> dict[str, Any]:
    return get_attestation(session, attestation_id).report


@router.post("/attestations/verify", summary="Verify a document: schema, hash tree, signature, signer")
def verify(
    body: VerifyRequest, _principal: ReadPrincipal, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """The verdict with every check and its reason; the signer must be this platform's."""
    from hokusai.attestation import load_signer, verify_attestation

    report = body.report or stored_report(session, body.attestation)
    signer = load_signer(settings).address
    verdict = verify_attestation(body.attestation, report=report, signer=signer)
    return {**verdict.to_dict(), "signer": signer}


@router.get("/contributors/{address}/impact", summary="What a wallet's contributions achieved")
def impact(address: str, _principal: ReadPrincipal, session: SessionDep) -> dict[str, Any]:
    return contributor_impact(session, address)
