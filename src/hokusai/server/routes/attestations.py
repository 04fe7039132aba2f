"""``/api/v1/attestations``: the signed documents (accepted ones are public), their verification, and
contributor impact."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from hokusai import schemas
from hokusai.server import policy
from hokusai.server.body_schema import CHECKSUM, semantic_rules
from hokusai.server.db.models import Attestation
from hokusai.server.deps import Caller, OptionalCaller, SessionDep, StateDep
from hokusai.server.services.access import attestation_subject, contributor_subject
from hokusai.server.services.attestations import contributor_impact, get_attestation, verify_document
from hokusai.server.services.signing import signer_history
from hokusai.wallet import checksum_address

router = APIRouter(prefix="/api/v1", tags=["attestations"])


def _readable(session: SessionDep, principal: OptionalCaller, attestation_id: str) -> Attestation:
    attestation = get_attestation(session, attestation_id)
    policy.require(principal, "attestation.read", attestation_subject(session, attestation))
    return attestation


@router.get(
    "/attestations/signers", response_model=schemas.Signers, summary="The platform's published signers"
)
def signers(_principal: OptionalCaller, session: SessionDep, state: StateDep) -> schemas.Signers:
    """Public: what ``hokusai attest verify`` checks a document's signer against: today's signers and the
    history of every signer and domain published (a new verifying contract or key keeps old documents
    valid)."""
    from hokusai.attestation import published_signers

    state.signer()  # loads the attester set if it is not loaded yet
    assert state.attesters is not None
    history = [
        schemas.PublishedSignerInfo(**vars(entry))
        for entry in signer_history(session, state.settings, state.attesters)
    ]
    return schemas.Signers(**published_signers(state.settings, state.attesters), history=history)


@router.get(
    "/attestations/{attestation_id}",
    response_model=schemas.AttestationDocument,
    summary="A signed attestation document",
)
def read_attestation(
    attestation_id: str, principal: OptionalCaller, session: SessionDep
) -> schemas.AttestationDocument:
    """Public for accepted runs (it exists to be verified by anyone); otherwise the run's participants."""
    return schemas.AttestationDocument.model_validate(_readable(session, principal, attestation_id).document)


@router.get(
    "/attestations/{attestation_id}/report",
    response_model=schemas.EvaluationReport,
    summary="The evaluation report behind an attestation",
)
def read_report(
    attestation_id: str, principal: OptionalCaller, session: SessionDep
) -> schemas.EvaluationReport:
    return schemas.EvaluationReport.model_validate(_readable(session, principal, attestation_id).report)


@router.post(
    "/attestations/verify",
    response_model=schemas.Verdict,
    summary="Verify a document: schema, hash tree, signature, signer",
)
def verify(
    body: schemas.VerifyRequest, _principal: OptionalCaller, session: SessionDep, state: StateDep
) -> schemas.Verdict:
    """The verdict with every check and its reason; the document's recorded EIP-712 domain and its signer
    must be ones this platform has published (at any time: see ``/attestations/signers``). Public."""
    signer = state.signer().address
    assert state.attesters is not None
    verdict = verify_document(session, state.settings, state.attesters, body.attestation, body.report)
    return schemas.Verdict(**verdict, signer=signer)


@router.get(
    "/contributors/{address}/impact",
    response_model=schemas.Impact,
    summary="What a wallet's contributions achieved",
    openapi_extra=semantic_rules(CHECKSUM),
)
def impact(
    address: Annotated[str, Path(pattern=schemas.ADDRESS_PATTERN)], principal: Caller, session: SessionDep
) -> schemas.Impact:
    """The wallet itself (and admins) only; a model's owner sees contributions and runs of its models."""
    wallet = checksum_address(address)
    policy.require(principal, "impact.read", contributor_subject(wallet))
    return contributor_impact(session, wallet)
