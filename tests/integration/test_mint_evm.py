"""Mint requests on a real EVM: the platform's ``submitCalldata`` against a verifier contract of our own.

``tests/contracts/DeltaVerifierHarness.sol`` recomputes the MintRequest digest from the contract's
type strings, recovers the attesters with OpenZeppelin's ECDSA, and enforces the DeltaVerifier's
rules. It is compiled once per session by solcjs (npm ``solc``, its bundled soljson.js) and deployed
on eth-tester's py-evm chain, a fresh one per test. Every revert is asserted by its custom error.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import to_checksum_address

from hokusai.attestation.attesters import AttesterSet, LocalAttester
from hokusai.attestation.commitment import commitment_of, model_bound
from hokusai.attestation.eip712 import typed_data_digest
from hokusai.attestation.mint import (
    SUBMIT_ARGUMENTS,
    SUBMIT_SELECTOR,
    MintPayload,
    contract_rule_violations,
    mint_domain,
    mint_request,
    parse_payload,
    payload_fields,
    payload_for_run,
    submit_calldata,
    typed_message,
)
from hokusai.config import Settings
from tests.unit.attestation.conftest import HASH, KEY, make_sealed

pytestmark = pytest.mark.realparts

pytest.importorskip("eth_tester", reason="eth-tester is not installed: pip install -e '.[test]'")
from tests.contracts.evm import Chain, Compiled, Contract, Reverted, compile_contract, missing_toolchain  # noqa: E402

MODEL_ID = 2**200 + 7  # on-chain ids are uint256: above 2**53 on purpose
THRESHOLD = 2
ATTESTER_KEYS = ["0x" + f"{i:02x}" * 32 for i in (0xA1, 0xB2, 0xC3)]
BASELINE = commitment_of([("model.pkl", HASH["base"])])
CANDIDATE = commitment_of([("model.pkl", HASH["cand"])])


@pytest.fixture(scope="session")
def compiled() -> Compiled:
    reason = missing_toolchain()
    if reason:
        pytest.skip(reason)
    return compile_contract("DeltaVerifierHarness.sol", "DeltaVerifierHarness")


@dataclass
class Deployment:
    chain: Chain
    verifier: Contract
    attesters: AttesterSet

    def request(self, payload: MintPayload, attesters: AttesterSet | None = None) -> dict[str, Any]:
        return mint_request(
            payload, attesters or self.attesters, chain_id=self.chain.chain_id,
            verifying_contract=self.verifier.address, now=self.chain.timestamp(),
        )  # fmt: skip

    def unchecked_calldata(self, payload: MintPayload) -> str:
        """Signed calldata without the platform's rule check (to see what the contract does with it)."""
        typed = typed_message(payload, mint_domain(self.chain.chain_id, self.verifier.address))
        signatures = [s for _a, s in self.attesters.sign(typed_data_digest(typed))]
        return submit_calldata(typed["message"], signatures)


@pytest.fixture
def deployment(compiled: Compiled) -> Deployment:
    chain = Chain()
    attesters = AttesterSet(tuple(LocalAttester(Account.from_key(k)) for k in ATTESTER_KEYS), THRESHOLD)
    verifier = chain.deploy(compiled, ["address[]", "uint256"], [attesters.addresses, THRESHOLD])
    verifier.transact(verifier.encode_call("setGenesis", MODEL_ID, bytes.fromhex(BASELINE[2:])))
    return Deployment(chain, verifier, attesters)


def accepted_run_payload(deployment: Deployment, tmp_path: Path, **change: Any) -> MintPayload:
    """The payload the platform builds for an accepted run (the attestation tests' sealed document)."""
    from hokusai.attestation.signing import Signer

    sealed = make_sealed(Signer(Account.from_key(KEY)))
    payload = payload_for_run(
        model_id=MODEL_ID, attestation=sealed.document, report=sealed.report | {"outcome": {
            "accepted": True, "primary_metric": "auroc"}},
        spec_id="breast-cancer-spec-v1", metric_family="rank", max_cost_usd_micro=2_000_000,
        compute_seconds=42.5, baseline_commitment=BASELINE, candidate_commitment=CANDIDATE,
        settings=Settings(data_dir=tmp_path), now=deployment.chain.timestamp(),
    )  # fmt: skip
    return replace(payload, **change)


def submitted(calldata: str) -> list[Any]:
    return list(decode(list(SUBMIT_ARGUMENTS), bytes.fromhex(calldata[10:])))


def resubmitted(arguments: list[Any]) -> str:
    return "0x" + (SUBMIT_SELECTOR + encode(list(SUBMIT_ARGUMENTS), arguments)).hex()


def reverted(deployment: Deployment, calldata: str) -> Reverted:
    with pytest.raises(Reverted) as caught:
        deployment.verifier.transact(calldata)
    return caught.value


def test_the_contract_computes_the_platforms_typed_data_digest(
    deployment: Deployment, tmp_path: Path
) -> None:
    request = deployment.request(accepted_run_payload(deployment, tmp_path))
    model_id, payload, contributors, _signatures = submitted(request["submitCalldata"])
    digest = deployment.verifier.call("mintRequestDigest", model_id, payload, contributors)
    assert "0x" + digest.hex() == request["typedDataDigest"]


def test_an_accepted_runs_mint_request_is_accepted_and_its_candidate_becomes_the_head(
    deployment: Deployment, tmp_path: Path
) -> None:
    payload = accepted_run_payload(deployment, tmp_path)
    request = deployment.request(payload)
    receipt = deployment.verifier.transact(request["submitCalldata"])
    assert receipt["status"] == 1 and len(receipt["logs"]) == 1
    assert "0x" + deployment.verifier.call("head", MODEL_ID).hex() == CANDIDATE
    assert deployment.verifier.call("idempotencyKeyUsed", bytes.fromhex(payload.idempotency_key[2:])) is True


def test_the_next_mint_starts_from_the_new_head_and_a_stale_baseline_reverts(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.verifier.transact(
        deployment.request(accepted_run_payload(deployment, tmp_path))["submitCalldata"]
    )
    next_candidate = commitment_of([("model.pkl", "ee" * 32)])
    stale = accepted_run_payload(
        deployment, tmp_path, idempotency_key="0x" + "5a" * 32, candidate_commitment=next_candidate
    )
    error = reverted(deployment, deployment.request(stale)["submitCalldata"])
    assert error.error == "StaleBaseline"
    assert ["0x" + a.hex() for a in error.arguments] == [CANDIDATE, BASELINE]
    current = replace(stale, baseline_commitment=CANDIDATE)
    deployment.verifier.transact(deployment.request(current)["submitCalldata"])
    assert "0x" + deployment.verifier.call("head", MODEL_ID).hex() == next_candidate


def test_a_mint_request_for_another_platform_model_of_the_same_file_reverts_on_its_on_chain_id(
    compiled: Compiled, tmp_path: Path
) -> None:
    """Two platform models registered from one file: the on-chain id set up for the second (its genesis is
    the file's commitment bound to it) refuses a mint request made for the first."""
    mine, theirs = "a" * 32, "b" * 32
    chain = Chain()
    attesters = AttesterSet(tuple(LocalAttester(Account.from_key(k)) for k in ATTESTER_KEYS), THRESHOLD)
    verifier = chain.deploy(compiled, ["address[]", "uint256"], [attesters.addresses, THRESHOLD])
    genesis = model_bound(theirs, BASELINE)
    verifier.transact(verifier.encode_call("setGenesis", MODEL_ID, bytes.fromhex(genesis[2:])))
    deployment = Deployment(chain, verifier, attesters)
    payload = accepted_run_payload(deployment, tmp_path)
    for model, outcome in ((mine, "StaleBaseline"), (theirs, None)):
        request = deployment.request(
            replace(payload, baseline_commitment=model_bound(model, BASELINE),
                    candidate_commitment=model_bound(model, CANDIDATE))
        )  # fmt: skip
        if outcome:
            assert reverted(deployment, request["submitCalldata"]).error == outcome
        else:
            assert deployment.verifier.transact(request["submitCalldata"])["status"] == 1
    assert "0x" + verifier.call("head", MODEL_ID).hex() == model_bound(theirs, CANDIDATE)


TAMPERING: dict[str, Callable[[list[Any]], None]] = {
    "candidate score": lambda a: a.__setitem__(1, (*a[1][:2], a[1][2] + 1, *a[1][3:])),
    "weights moved": lambda a: a.__setitem__(2, [(a[2][0][0], a[2][0][1] - 1), (a[2][1][0], a[2][1][1] + 1)]),
    "metric name": lambda a: a.__setitem__(1, (*a[1][:6], (*a[1][6][:4], "accuracy", a[1][6][5]), *a[1][7:])),
    "candidate commitment": lambda a: a.__setitem__(1, (*a[1][:8], b"\x99" * 32, a[1][9])),
    "deadline": lambda a: a.__setitem__(1, (*a[1][:9], a[1][9] + 1)),
    "run id": lambda a: a.__setitem__(1, ("hk-somebody-else", *a[1][1:])),
}


@pytest.mark.parametrize("field", TAMPERING)
def test_a_tampered_field_reverts_because_the_signatures_no_longer_recover_to_attesters(
    deployment: Deployment, tmp_path: Path, field: str
) -> None:
    arguments = submitted(deployment.request(accepted_run_payload(deployment, tmp_path))["submitCalldata"])
    TAMPERING[field](arguments)
    assert reverted(deployment, resubmitted(arguments)).error == "NotAttester"


def test_signatures_out_of_ascending_signer_order_revert(deployment: Deployment, tmp_path: Path) -> None:
    arguments = submitted(deployment.request(accepted_run_payload(deployment, tmp_path))["submitCalldata"])
    arguments[3] = list(reversed(arguments[3]))
    assert reverted(deployment, resubmitted(arguments)).error == "SignersNotAscending"


def test_a_reused_idempotency_key_reverts(deployment: Deployment, tmp_path: Path) -> None:
    calldata = deployment.request(accepted_run_payload(deployment, tmp_path))["submitCalldata"]
    deployment.verifier.transact(calldata)
    assert reverted(deployment, calldata).error == "IdempotencyKeyUsed"


def test_a_mint_request_past_its_deadline_reverts(deployment: Deployment, tmp_path: Path) -> None:
    payload = accepted_run_payload(deployment, tmp_path)
    calldata = deployment.request(payload)["submitCalldata"]
    deployment.chain.travel_to(payload.deadline + 60)  # a minute late (eth-tester's latest block lags by 1 s)
    error = reverted(deployment, calldata)
    assert error.error == "DeadlinePassed" and error.arguments[0] == payload.deadline


def test_fewer_signatures_than_the_threshold_revert(deployment: Deployment, tmp_path: Path) -> None:
    one = AttesterSet(deployment.attesters.attesters, threshold=1)
    calldata = deployment.request(accepted_run_payload(deployment, tmp_path), one)["submitCalldata"]
    error = reverted(deployment, calldata)
    assert (error.error, error.arguments) == ("TooFewSignatures", (1, THRESHOLD))


def test_a_key_that_is_not_a_registered_attester_reverts(deployment: Deployment, tmp_path: Path) -> None:
    stranger = LocalAttester(Account.create())
    mixed = AttesterSet((stranger, deployment.attesters.attesters[0]), THRESHOLD)
    error = reverted(
        deployment, deployment.request(accepted_run_payload(deployment, tmp_path), mixed)["submitCalldata"]
    )
    assert error.error == "NotAttester" and to_checksum_address(error.arguments[0]) == stranger.address


W = ["0x" + f"{i + 1:040x}" for i in range(101)]
RULES: dict[str, tuple[dict[str, Any], str]] = {
    "score above 10000": ({"candidateScoreBps": 10_001}, "ScoreAboveMax"),
    "weights short of 10000": (
        {"contributors": [{"walletAddress": W[0], "weight": 9_999}]},
        "WeightsNotExact",
    ),
    "duplicate contributor": (
        {
            "contributors": [
                {"walletAddress": W[0], "weight": 5_000},
                {"walletAddress": W[0], "weight": 5_000},
            ]
        },
        "BadContributor",
    ),
    "zero address": (
        {"contributors": [{"walletAddress": "0x" + "00" * 20, "weight": 10_000}]},
        "BadContributor",
    ),
    "101 contributors": (
        {"contributors": [{"walletAddress": w, "weight": 100 if i else 0} for i, w in enumerate(W)]},
        "ContributorCount",
    ),
    "zero idempotency key": ({"idempotencyKey": "0x" + "00" * 32}, "ZeroIdempotencyKey"),
    "zero candidate commitment": ({"candidateCommitment": "0x" + "00" * 32}, "ZeroCandidate"),
}


@pytest.mark.parametrize("rule", RULES)
def test_what_the_platform_refuses_to_sign_the_contract_reverts_on(
    deployment: Deployment, tmp_path: Path, rule: str
) -> None:
    change, error = RULES[rule]
    fields = copy.deepcopy(payload_fields(accepted_run_payload(deployment, tmp_path)))
    fields.update(change)
    payload = parse_payload(fields)
    assert contract_rule_violations(payload, now=deployment.chain.timestamp())  # refused before signing
    assert reverted(deployment, deployment.unchecked_calldata(payload)).error == error
