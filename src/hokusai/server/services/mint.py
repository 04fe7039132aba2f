"""Mint requests for accepted runs: the signed EIP-712 message and calldata the DeltaVerifier accepts.

The payload is mapped field by field by ``hokusai.attestation.mint.payload_for_run`` from the run's
attestation and report; the platform adds what only it knows: the model's on-chain id, its weight head
(the run's baseline must still be it, else 409 ``stale_baseline``), the benchmark spec's id and cost
cap, and the run's compute time. Recording a mint (``record_head``) moves the head, and the model's
baseline with it when the head is an accepted run's candidate.

On-chain commitments are bound to the platform model (``commitment.model_bound``): the head, the
``baselineCommitment`` and the ``candidateCommitment`` all name the model, never the file alone.

A model's on-chain id (``bind_onchain_id``) is unique per chain and verifying contract and is set by an
admin, or with a signature of the wallet that binds it (``hokusai.attestation.binding``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hokusai.attestation.attesters import AttesterSet
from hokusai.attestation.binding import binding_message, binding_signer
from hokusai.attestation.commitment import model_bound
from hokusai.attestation.mint import (
    cost_usd_micro,
    payload_for_run,
    settings_mint_domain,
    settings_mint_request,
)
from hokusai.config import Settings
from hokusai.errors import Conflict, Forbidden, InvalidInput
from hokusai.server import policy
from hokusai.server.db.models import Attestation, BenchmarkSpecRow, Model, Run
from hokusai.server.policy import ADMIN_ROLE
from hokusai.server.principal import Principal
from hokusai.server.services.access import run_subject
from hokusai.server.services.audit import record_event
from hokusai.server.services.benchmarks import load
from hokusai.server.services.runs import SUCCEEDED
from hokusai.wallet import checksum_address

BYTES32 = re.compile(r"^0x[0-9a-f]{64}$")
UINT256 = re.compile(r"^[0-9]{1,78}$")


def check_onchain_id(value: str) -> str:
    """A uint256 as decimal text (no sign, no leading zeros beyond '0')."""
    if not UINT256.match(value) or int(value) >= 2**256 or (len(value) > 1 and value.startswith("0")):
        raise InvalidInput(
            "onchain_id must be the model's uint256 id in the DeltaVerifier, as decimal text",
            code="bad_onchain_id",
        )
    return value


def check_commitment(value: str) -> str:
    """A bytes32 weight commitment, 0x + 64 lower-case hex digits."""
    value = value.lower()
    if not BYTES32.match(value):
        raise InvalidInput("a weight commitment is 0x followed by 64 hex digits", code="bad_commitment")
    return value


def record_head(session: Session, model: Model, head: str) -> Run | None:
    """Set the model's weight head (what the contract holds after a mint); when it is the candidate of one
    of the model's accepted runs, that run's registered version becomes the baseline runs evaluate."""
    model.weight_head = check_commitment(head)
    for run in session.scalars(
        select(Run).where(
            Run.model_id == model.id, Run.outcome == "accepted", Run.registered_version.is_not(None)
        )
    ):
        attestation = session.get(Attestation, run.attestation_id) if run.attestation_id else None
        commitments = ((attestation.report if attestation else None) or {}).get("weight_commitments") or {}
        candidate = commitments.get("candidate")
        if attestation is not None and candidate and model_bound(model.id, candidate) == model.weight_head:
            model.baseline_version = str(run.registered_version)
            model.model_hash = attestation.document["models"]["new"]["model_hash"]
            return run
    return None


def _mint_domain(settings: Settings) -> tuple[int, str]:
    """(chain id, verifying contract) mint requests are signed for; 409 when no contract is configured (a
    state of this platform, not an outage: asking again changes nothing)."""
    if settings.delta_verifier_address is None:
        raise Conflict(
            "this platform issues no mint requests: HOKUSAI_DELTA_VERIFIER_ADDRESS is not set",
            code="mint_not_configured",
        )
    domain = settings_mint_domain(settings)
    return domain["chainId"], domain["verifyingContract"]


def bind_onchain_id(
    session: Session,
    settings: Settings,
    principal: Principal,
    model: Model,
    onchain_id: str | None,
    wallet: str | None = None,
    signature: str | None = None,
) -> None:
    """Bind ``onchain_id`` to ``model`` on the configured chain and DeltaVerifier (None: unbind).

    Who: an admin, or (the model's owner) with ``signature``, the EIP-712 ``ModelBinding`` signed by
    ``wallet``, the wallet that owns the model on-chain (recorded as ``onchain_wallet``). An id is bound
    to one model per chain and contract: 409 ``onchain_id_taken`` while another model holds it (an admin
    unbinds that one first).
    The caller's right to change the model is the route's policy row (``model.write``).
    """
    if onchain_id is None:
        model.onchain_id = model.onchain_chain_id = model.onchain_contract = model.onchain_wallet = None
        model.onchain_bound_by = principal.id
        return
    value = check_onchain_id(onchain_id)
    chain_id, contract = _mint_domain(settings)
    if (wallet is None) != (signature is None):
        raise InvalidInput(
            "a signed binding gives both onchain_wallet and onchain_signature", code="bad_signature"
        )
    if wallet is not None and signature is not None:
        claimed = checksum_address(wallet)
        message = binding_message(
            int(value), model.id, model.name, chain_id=chain_id, verifying_contract=contract
        )
        if binding_signer(message, signature) != claimed:
            raise Forbidden(
                f"the signature is not {claimed}'s ModelBinding of on-chain id {value} to model "
                f"{model.name!r} ({model.id}) on chain {chain_id} / contract {contract}",
                code="bad_signature",
                details={"chain_id": chain_id, "verifying_contract": contract, "platform_model_id": model.id},
            )
        wallet = claimed
    elif principal.role != ADMIN_ROLE:
        raise Forbidden(
            "an on-chain id is set by an admin, or with onchain_signature: the EIP-712 ModelBinding "
            f"{{modelId: {value}, platformModelId: {model.id!r}, platformModelName: {model.name!r}}} on "
            f"chain {chain_id} and contract {contract}, signed by the wallet that owns the model on-chain "
            f"(hokusai models set-onchain-id {model.name} {value} --wallet)",
            code="onchain_id_unsigned",
            details={"chain_id": chain_id, "verifying_contract": contract, "platform_model_id": model.id},
        )
    holder = session.scalar(
        select(Model.name).where(
            Model.onchain_chain_id == chain_id,
            Model.onchain_contract == contract,
            Model.onchain_id == value,
            Model.id != model.id,
        )
    )
    if holder is not None:
        raise _taken(value, chain_id, contract, holder)
    model.onchain_id, model.onchain_chain_id, model.onchain_contract = value, chain_id, contract
    model.onchain_wallet, model.onchain_bound_by = wallet, principal.id
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # bound to another model at the same moment
        raise _taken(value, chain_id, contract, None) from None


def _taken(value: str, chain_id: int, contract: str, holder: str | None) -> Conflict:
    return Conflict(
        f"on-chain id {value} on chain {chain_id} / contract {contract} is already bound to "
        f"{'model ' + repr(holder) if holder else 'another model'}; an id names one model",
        code="onchain_id_taken",
        details={"onchain_id": value, "chain_id": chain_id, "verifying_contract": contract, "model": holder},
    )


def mint_request_for_run(
    session: Session, settings: Settings, attesters: AttesterSet, principal: Principal, run: Run
) -> dict[str, Any]:
    """The signed mint request of an accepted run (its model's owner or an admin)."""
    model = session.get(Model, run.model_id)
    assert model is not None
    policy.require(principal, "run.mint", run_subject(session, run, model))
    chain_id, contract = _mint_domain(settings)
    attestation = session.get(Attestation, run.attestation_id) if run.attestation_id else None
    if run.state != SUCCEEDED or run.outcome != "accepted" or attestation is None:
        raise Conflict(
            f"run {run.id} is not an accepted DeltaOne ({run.outcome or run.state}); "
            "only those have a mint request",
            code="not_accepted",
        )
    if model.onchain_id is None or (model.onchain_chain_id, model.onchain_contract) != (chain_id, contract):
        raise Conflict(
            f"model {model.name!r} has no on-chain id bound on chain {chain_id} / contract {contract}: an "
            f"admin sets it, or its owner with the on-chain owner's signature (hokusai models set-onchain-id "
            f"{model.name} ID --wallet)",
            code="no_onchain_id",
            details={"onchain_id": model.onchain_id, "chain_id": chain_id, "verifying_contract": contract},
        )
    report = attestation.report or {}
    commitments = report.get("weight_commitments") or {}
    baseline = commitments.get("baseline")
    if model.weight_head is None or not baseline or model_bound(model.id, baseline) != model.weight_head:
        raise Conflict(
            "the run's baseline is no longer the model's weight head (another mint moved it): run the "
            "contributions again against the current baseline",
            code="stale_baseline",
            details={"weight_head": model.weight_head, "run_baseline": baseline},
        )
    spec_row = session.get(BenchmarkSpecRow, run.benchmark_spec_id) if run.benchmark_spec_id else None
    if spec_row is None:
        raise Conflict("the run was evaluated before benchmark specs existed; run it again", code="no_spec")
    compute_seconds = (
        (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else 0.0
    )
    actual = cost_usd_micro(compute_seconds, settings.compute_price_usd_per_hour)
    cap = load(spec_row).cost_cap_usd
    maximum = actual if cap is None else round(cap * 1_000_000)
    if actual > maximum:
        raise Conflict(
            f"the evaluation cost {actual / 1e6:.6f} USD, above the spec's cap of {cap} USD",
            code="cost_cap_exceeded",
        )
    payload = payload_for_run(
        model_id=int(model.onchain_id), attestation=attestation.document, report=report, spec_id=spec_row.id,
        metric_family=str(report.get("metric_family")), max_cost_usd_micro=maximum,
        compute_seconds=compute_seconds, baseline_commitment=model.weight_head,
        candidate_commitment=model_bound(model.id, commitments["candidate"]), settings=settings,
    )  # fmt: skip
    request = settings_mint_request(settings, payload, attesters)
    record_event(
        session,
        "mint_request_issued",
        principal_id=principal.id,
        resource=f"run:{run.id}",
        details={"model": model.name, "key": payload.idempotency_key, "deadline": payload.deadline},
    )
    return request
