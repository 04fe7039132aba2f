"""``/api/v1/models/{name}/contributions``: a wallet submits data to a model; validated, stored by content."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hokusai import schemas
from hokusai.attestation.terms import terms_domain
from hokusai.pipeline.inputs import verdict_cache
from hokusai.server import policy
from hokusai.server.body_schema import CHECKSUM, DATA_RULES, semantic_rules
from hokusai.server.deps import Caller, SessionDep, SettingsDep, StateDep
from hokusai.server.services.access import contribution_subject
from hokusai.server.services.contributions import get_contribution, list_contributions, submit
from hokusai.server.services.models import get_model, get_model_by_id
from hokusai.server.services.rights import Copies, contribution_view, withdraw
from hokusai.server.uploads import Stored, Upload, multipart_body, respond_to_upload

router = APIRouter(prefix="/api/v1", tags=["contributions"])


@router.post(
    "/models/{name}/contributions",
    status_code=201,
    response_model=schemas.Contribution,
    summary="Contribute a data file under signed terms (multipart fields `file`, `terms`, `terms_signature`; "
    "admins may add `contributor_address`)",
    openapi_extra={
        **multipart_body(
            "file",
            "A CSV, TSV, JSON, JSONL or Parquet file",
            {
                "contributor_address": {
                    "type": "string",
                    "pattern": schemas.ADDRESS_PATTERN,
                    "description": "Admins only: the contributor's wallet",
                },
                "terms": {
                    "type": "string",
                    "description": "JSON: the EIP-712 ContributionTerms typed data (eth_signTypedData_v4) "
                    "for this file's SHA-256 and this model, under the platform's chain and contract",
                },
                "terms_signature": {
                    "type": "string",
                    "pattern": "^0x[0-9a-fA-F]{130}$",
                    "description": "The credited wallet's 65-byte signature of the terms",
                },
            },
            required=("terms", "terms_signature"),
        ),
        **semantic_rules(*DATA_RULES, CHECKSUM),
    },
    responses={200: {"model": schemas.Contribution, "description": "These bytes were contributed before"}},
)
async def contribute(name: str, request: Request, principal: Caller, state: StateDep) -> JSONResponse:
    """Validation, manifest and the stored terms in the answer; the contributor is the signed-in wallet (or
    the wallet an admin names), and the terms must be signed by that wallet: refused otherwise with
    ``terms_required``, ``terms_invalid``, ``terms_mismatch``, ``terms_signature_invalid``,
    ``terms_signer_mismatch`` (403), ``terms_expired`` or ``terms_insufficient`` (422: less than the
    model's benchmark spec requires)."""

    def model_exists() -> None:
        with state.sessions() as session:
            get_model(session, name)

    await run_in_threadpool(model_exists)  # 404 before reading a byte of the upload

    def store(upload: Upload) -> Stored:
        with state.sessions() as session:
            model = get_model(session, name)
            contribution, ingested = submit(
                session,
                state.store,
                model,
                upload.path,
                name=upload.filename,
                principal=principal,
                requested_contributor=upload.fields.get("contributor_address") or None,
                quota_bytes=state.settings.owner_storage_max_bytes,
                terms_domain=terms_domain(state.settings.chain_id, state.settings.delta_verifier_address),
                terms=upload.fields.get("terms"),
                terms_signature=upload.fields.get("terms_signature"),
                sha256=upload.sha256,
                verdicts=verdict_cache(state.settings.data_dir),  # the local runner's worker reads it
            )
            session.commit()
            return contribution_view(session, contribution, model, state.settings), ingested.created

    return await respond_to_upload(request, state.settings, store)


@router.get(
    "/models/{name}/contributions",
    response_model=schemas.ContributionList,
    summary="A model's contributions you may read",
)
def model_contributions(
    name: str, principal: Caller, session: SessionDep, settings: SettingsDep
) -> schemas.ContributionList:
    """The owner (and admins) see every contribution; a wallet sees its own."""
    model = get_model(session, name)
    readable = policy.visible(
        principal,
        "contribution.read",
        ((contribution_subject(c, model), c) for c in list_contributions(session, model)),
    )
    return schemas.ContributionList(
        contributions=[contribution_view(session, c, model, settings) for c in readable]
    )


@router.get(
    "/contributions/{contribution_id}", response_model=schemas.Contribution, summary="One contribution"
)
def read_contribution(
    contribution_id: str, principal: Caller, session: SessionDep, settings: SettingsDep
) -> schemas.Contribution:
    """With where its raw data is (``data``): stored until when, or deleted, why, and what stays."""
    contribution = get_contribution(session, contribution_id)
    model = get_model_by_id(session, contribution.model_id)
    policy.require(principal, "contribution.read", contribution_subject(contribution, model))
    return contribution_view(session, contribution, model, settings)


@router.post(
    "/contributions/{contribution_id}/withdraw",
    response_model=schemas.Withdrawal,
    summary="Withdraw your contribution: every copy of its raw data is deleted",
)
def withdraw_contribution(
    contribution_id: str, principal: Caller, session: SessionDep, state: StateDep
) -> schemas.Withdrawal:
    """Its wallet (or an admin) withdraws it; queued runs that would use it are cancelled. Hashes, manifest
    and attestations stay; ``model_versions`` lists what accepted runs trained on it. Idempotent."""
    contribution = get_contribution(session, contribution_id)
    model = get_model_by_id(session, contribution.model_id)
    answer = withdraw(session, Copies(state.store, state.settings), principal, contribution, model)
    session.commit()
    return answer
