"""Mint requests for accepted runs: the signed EIP-712 message and calldata the DeltaVerifier accepts.

The payload is mapped field by field by ``hokusai.attestation.mint.payload_for_run`` from the run's
attestation and report; the platform adds what only it knows: the model's on-chain id, its weight head
(the run's baseline must still be it, else 409 ``stale_baseline``), the benchmark spec's id and cost
cap, and the run's compute time. Recording a mint (``record_head``) moves the head, and the model's
baseline with it when the head is an accepted run's candidate.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hokusai.attestation.attesters import AttesterSet
from hokusai.attestation.mint import cost_usd_micro, payload_for_run, settings_mint_request
from hokusai.config import Settings
from hokusai.errors import Conflict, InvalidInput, ServiceUnavailable
from hokusai.server import policy
from hokusai.server.db.models import Attestation, BenchmarkSpecRow, Model, Run
from hokusai.server.principal import Principal
from hokusai.server.services.access import run_subject
from hokusai.server.services.audit import record_event
from hokusai.server.services.benchmarks import load
from hokusai.server.services.runs import SUCCEEDED

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
        if commitments.get("candidate") == model.weight_head and attestation is not None:
            model.baseline_version = str(run.registered_version)
            model.model_hash = attestation.document["models"]["new"]["model_hash"]
            return run
    return None


def mint_request_for_run(
    session: Session, settings: Settings, attesters: AttesterSet, principal: Principal, run: Run
) -> dict[str, Any]:
    """The signed mint request of an accepted run (its model's owner or an admin)."""
    model = session.get(Model, run.model_id)
    assert model is not None
    policy.require(principal, "run.mint", run_subject(session, run, model))
    if settings.delta_verifier_address is None:
        raise ServiceUnavailable(
            "this platform issues no mint requests: HOKUSAI_DELTA_VERIFIER_ADDRESS is not set",
            code="mint_not_configured",
        )
    attestation = session.get(Attestation, run.attestation_id) if run.attestation_id else None
    if run.state != SUCCEEDED or run.outcome != "accepted" or attestation is None:
        raise Conflict(
            f"run {run.id} is not an accepted DeltaOne ({run.outcome or run.state}); "
            "only those have a mint request",
            code="not_accepted",
        )
    if model.onchain_id is None:
        raise Conflict(
            f"model {model.name!r} has no on-chain id: its owner sets it (PATCH /api/v1/models/{model.name} "
            '{"onchain_id": "…"})',
            code="no_onchain_id",
        )
    report = attestation.report or {}
    commitments = report.get("weight_commitments") or {}
    if model.weight_head is None or commitments.get("baseline") != model.weight_head:
        raise Conflict(
            "the run's baseline is no longer the model's weight head (another mint moved it): run the "
            "contributions again against the current baseline",
            code="stale_baseline",
            details={"weight_head": model.weight_head, "run_baseline": commitments.get("baseline")},
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
        candidate_commitment=commitments["candidate"], settings=settings,
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
