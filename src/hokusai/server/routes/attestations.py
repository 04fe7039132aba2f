"""``/api/v1/attestations``: the signed documents (accepted ones are public), their verification, and
contributor impact."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hokusai.server import policy
from hokusai.server.deps import Caller, OptionalCaller, SessionDep, SettingsDep
from hokusai.server.services.access import attestation_subject, contributor_subject, model_subject
from hokusai.server.services.attestations import contributor_impact, get_attestation, stored_report
from hokusai.server.services.models import list_models
from hokusai.wallet import checksum_address

router = APIRouter(prefix="/api/v1", tags=["attestations"])


class VerifyRequest(BaseModel):
    """A document to verify; its evaluation report is looked up here when it is not sent."""

    attestation: dict[str, Any]
    report: dict[str, Any] | None = Field(None, description="The companion evaluation_report.json")


@router.get("/attestations/{attestation_id}", summary="A signed attestation document")
def read_attestation(attestation_id: str, principal: OptionalCaller, session: SessionDep) -> dict[str, Any]:
    """Public for accepted runs (it exists to be verified by anyone); otherwise the run's participants."""
    attestation = get_attestation(session, attestation_id)
    policy.require(principal, "attestation.read", attestation_subject(session, attestation))
    return attestation.document


@router.get("/attestations/{attestation_id}/report", summary="The evaluation report behind an attestation")
def read_report(attestation_id: str, principal: OptionalCaller, session: SessionDep) -> dict[str, Any]:
    attestation = get_attestation(session, attestation_id)
    policy.require(principal, "attestation.read", attestation_subject(session, attestation))
    return attestation.report


@router.post("/attestations/verify", summary="Verify a document: schema, hash tree, signature, signer")
def verify(
    body: VerifyRequest, _principal: OptionalCaller, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """The verdict with every check and its reason; the signer must be this platform's. Public."""
    from hokusai.attestation import load_signer, verify_attestation

    report = body.report or stored_report(session, body.attestation)
    signer = load_signer(settings).address
    verdict = verify_attestation(body.attestation, report=report, signer=signer)
    return {**verdict.to_dict(), "signer": signer}


@router.get("/contributors/{address}/impact", summary="What a wallet's contributions achieved")
def impact(address: str, principal: Caller, session: SessionDep) -> dict[str, Any]:
    """The wallet itself and admins see everything; a model's owner what the wallet did for its models."""
    wallet = checksum_address(address)
    subject = contributor_subject(wallet)
    if policy.allows(principal, "impact.read", subject):
        return contributor_impact(session, wallet)
    owned = [m.id for m in list_models(session) if policy.allows(principal, "model.write", model_subject(m))]
    if not owned:
        policy.require(principal, "impact.read", subject)
    return contributor_impact(session, wallet, model_ids=owned)
