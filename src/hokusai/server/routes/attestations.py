"""``/api/v1/attestations``: the signed documents (accepted ones are public), their verification, and
contributor impact."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hokusai.server import policy
from hokusai.server.deps import Caller, OptionalCaller, SessionDep, StateDep
from hokusai.server.services.access import attestation_subject, contributor_subject
from hokusai.server.services.attestations import contributor_impact, get_attestation, verify_document
from hokusai.wallet import checksum_address

router = APIRouter(prefix="/api/v1", tags=["attestations"])


class VerifyRequest(BaseModel):
    """A document to verify; its evaluation report is looked up here when it is not sent."""

    attestation: dict[str, Any]
    report: dict[str, Any] | None = Field(None, description="The companion evaluation_report.json")


class Signers(BaseModel):
    """Who signs attestations and mint requests, how many must, for which chain and contract."""

    signers: list[str]
    threshold: int
    chain_id: int
    verifying_contract: str | None


@router.get("/attestations/signers", response_model=Signers, summary="The platform's published signers")
def signers(_principal: OptionalCaller, state: StateDep) -> Signers:
    """Public: what ``hokusai attest verify`` checks a document's signer against."""
    from hokusai.attestation import published_signers

    state.signer()  # loads the attester set if it is not loaded yet
    assert state.attesters is not None
    return Signers(**published_signers(state.settings, state.attesters))


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
    body: VerifyRequest, _principal: OptionalCaller, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """The verdict with every check and its reason; the signer must be one of this platform's, under its
    EIP-712 domain. Public."""
    signer = state.signer().address
    assert state.attesters is not None
    verdict = verify_document(session, state.settings, state.attesters, body.attestation, body.report)
    return {**verdict, "signer": signer}


@router.get("/contributors/{address}/impact", summary="What a wallet's contributions achieved")
def impact(address: str, principal: Caller, session: SessionDep) -> dict[str, Any]:
    """The wallet itself (and admins) only; a model's owner sees contributions and runs of its models."""
    wallet = checksum_address(address)
    policy.require(principal, "impact.read", contributor_subject(wallet))
    return contributor_impact(session, wallet)
