"""Mint requests: the contract's typed data, a known answer derived by hand, the field mapping, the rules."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_account._utils.encode_typed_data.encoding_and_hashing import encode_type
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from hokusai.attestation.attesters import AttesterSet, LocalAttester
from hokusai.attestation.eip712 import recover
from hokusai.attestation.mint import (
    TYPES,
    MintPayload,
    attestation_hash,
    benchmark_spec_hash,
    contract_rule_violations,
    cost_usd_micro,
    idempotency_key,
    mint_request,
    parse_payload,
    payload_fields,
    payload_for_run,
    score_bps,
    settings_mint_domain,
)
from hokusai.config import Settings
from hokusai.errors import ConfigError, InvalidInput
from hokusai.hashing import canonical_hash
from tests.unit.attestation.conftest import HASH, WALLETS, Sealed

# The contract's interface, copied from the issue (not imported: the test must not share the code's text).
MINT_TYPE = "MintRequest(uint256 modelId,MintRequestPayload payload,Contributor[] contributors)"
PAYLOAD_TYPE = (
    "MintRequestPayload(string pipelineRunId,uint256 baselineScoreBps,uint256 candidateScoreBps,"
    "uint256 maxCostUsdMicro,uint256 actualCostUsdMicro,uint256 totalSamples,BenchmarkAnchors anchors,"
    "bytes32 baselineCommitment,bytes32 candidateCommitment,uint256 deadline)"
)
ANCHORS_TYPE = (
    "BenchmarkAnchors(bytes32 benchmarkSpecHash,bytes32 datasetHash,bytes32 attestationHash,"
    "bytes32 idempotencyKey,string metricName,string metricFamily)"
)
CONTRIBUTOR_TYPE = "Contributor(address walletAddress,uint256 weight)"
SUBMIT = (
    "submitMintRequest(uint256,(string,uint256,uint256,uint256,uint256,uint256,"
    "(bytes32,bytes32,bytes32,bytes32,string,string),bytes32,bytes32,uint256),(address,uint256)[],bytes[])"
)

KAT_KEY = "0x" + "11" * 32
KAT_CHAIN = 31337
KAT_CONTRACT = "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
KAT_NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
KAT_PAYLOAD: dict[str, Any] = {
    "modelId": "115792089237316195423570985008687907853269984665640564039457584007913129639935",  # 2**256-1
    "pipelineRunId": "hk-0123456789abcdef0123456789abcdef",
    "baselineScoreBps": 8812,
    "candidateScoreBps": 9104,
    "maxCostUsdMicro": 5_000_000,
    "actualCostUsdMicro": 1_234,
    "totalSamples": 400,
    "benchmarkSpecHash": "0x" + keccak(text="spec-breast-cancer-v1").hex(),
    "datasetHash": "0x" + "ab" * 32,
    "attestationHash": "0x" + "cd" * 32,
    "idempotencyKey": "0x" + "ef" * 32,
    "metricName": "auroc",
    "metricFamily": "rank",
    "baselineCommitment": "0x" + "01" * 32,
    "candidateCommitment": "0x" + "02" * 32,
    "deadline": KAT_NOW + 432_000,
    "contributors": [
        {"walletAddress": WALLETS[0], "weight": 6667},
        {"walletAddress": WALLETS[1], "weight": 3333},
    ],
}
# Derived by the by-hand encoding in test_the_known_answer_matches_a_by_hand_eip712_encoding (which
# checks these constants), so a change in the code or in the derivation shows here.
KAT_DIGEST = "0x951defa95ff12d9c25cf3aa4faeed137d701a1a6ec8fdeba508af9bbc120aeda"
KAT_SIGNATURE = (
    "0x2e537f958de5ca289b81d9f18cc70b6e40d6564a5bdebf4b66b92858edcca3d4"
    "6e53e56cec1a7a5d747248e09c73cede388e35475b9c36732236b38808425a0c1b"
)
KAT_CALLDATA_SHA256 = "3049cf1700d0046838d30ef8eef1c2e865877b8cfeee066a0fc7b909d28c41c8"


def one_attester(key: str = KAT_KEY) -> AttesterSet:
    return AttesterSet((LocalAttester(Account.from_key(key)),), 1)


def _kat_request() -> dict[str, Any]:
    return mint_request(
        parse_payload(KAT_PAYLOAD),
        one_attester(),
        chain_id=KAT_CHAIN,
        verifying_contract=KAT_CONTRACT,
        now=KAT_NOW,
    )


def _by_hand_digest(p: dict[str, Any]) -> bytes:
    """EIP-712 written out: typeHash ‖ encodeData words, structs and strings by their keccak256."""
    word = lambda h: bytes.fromhex(h.removeprefix("0x"))  # noqa: E731
    anchors = keccak(
        encode(
            ["bytes32"] * 7,
            [
                keccak(text=ANCHORS_TYPE),
                word(p["benchmarkSpecHash"]),
                word(p["datasetHash"]),
                word(p["attestationHash"]),
                word(p["idempotencyKey"]),
                keccak(text=p["metricName"]),
                keccak(text=p["metricFamily"]),
            ],
        )
    )
    payload = keccak(
        encode(
            ["bytes32", "bytes32", *["uint256"] * 5, "bytes32", "bytes32", "bytes32", "uint256"],
            [
                keccak(text=PAYLOAD_TYPE + ANCHORS_TYPE),
                keccak(text=p["pipelineRunId"]),
                p["baselineScoreBps"],
                p["candidateScoreBps"],
                p["maxCostUsdMicro"],
                p["actualCostUsdMicro"],
                p["totalSamples"],
                anchors,
                word(p["baselineCommitment"]),
                word(p["candidateCommitment"]),
                p["deadline"],
            ],
        )
    )
    contributors = keccak(
        b"".join(
            keccak(
                encode(
                    ["bytes32", "address", "uint256"],
                    [keccak(text=CONTRIBUTOR_TYPE), c["walletAddress"], c["weight"]],
                )
            )
            for c in p["contributors"]
        )
    )
    struct = keccak(
        encode(
            ["bytes32", "uint256", "bytes32", "bytes32"],
            [
                keccak(text=MINT_TYPE + ANCHORS_TYPE + CONTRIBUTOR_TYPE + PAYLOAD_TYPE),
                int(p["modelId"]),
                payload,
                contributors,
            ],
        )
    )
    separator = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(
                    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak(text="HokusaiDeltaVerifier"),
                keccak(text="1"),
                KAT_CHAIN,
                KAT_CONTRACT,
            ],
        )
    )
    return keccak(b"\x19\x01" + separator + struct)


def test_the_types_are_exactly_the_contracts_encode_type_strings() -> None:
    assert encode_type("MintRequest", TYPES) == MINT_TYPE + ANCHORS_TYPE + CONTRIBUTOR_TYPE + PAYLOAD_TYPE
    assert encode_type("MintRequestPayload", TYPES) == PAYLOAD_TYPE + ANCHORS_TYPE
    assert encode_type("BenchmarkAnchors", TYPES) == ANCHORS_TYPE
    assert encode_type("Contributor", TYPES) == CONTRIBUTOR_TYPE


def test_the_known_answer_matches_a_by_hand_eip712_encoding() -> None:
    request = _kat_request()
    by_hand = _by_hand_digest(KAT_PAYLOAD)
    assert request["typedDataDigest"] == "0x" + by_hand.hex() == KAT_DIGEST
    signable = encode_typed_data(
        full_message={k: request[k] for k in ("types", "primaryType", "domain", "message")}
    )
    assert keccak(b"\x19" + signable.version + signable.header + signable.body) == by_hand
    expected = Account.from_key(KAT_KEY).unsafe_sign_hash(by_hand).signature
    assert request["signatures"] == ["0x" + bytes(expected).hex()] == [KAT_SIGNATURE]
    assert hashlib.sha256(bytes.fromhex(request["submitCalldata"][2:])).hexdigest() == KAT_CALLDATA_SHA256


def test_the_domain_is_the_contracts() -> None:
    assert _kat_request()["domain"] == {
        "name": "HokusaiDeltaVerifier",
        "version": "1",
        "chainId": KAT_CHAIN,
        "verifyingContract": KAT_CONTRACT,
    }


def test_the_calldata_is_the_abi_encoded_submit_call_of_the_signed_fields() -> None:
    request = _kat_request()
    calldata = bytes.fromhex(request["submitCalldata"][2:])
    assert calldata[:4] == keccak(text=SUBMIT)[:4]
    types = SUBMIT[SUBMIT.index("(") + 1 : -1]
    model_id, payload, contributors, signatures = decode(
        ["uint256", types[8 : types.index(",(address")], "(address,uint256)[]", "bytes[]"], calldata[4:]
    )
    p = KAT_PAYLOAD
    assert model_id == 2**256 - 1
    assert payload[0] == p["pipelineRunId"] and payload[1:6] == (8812, 9104, 5_000_000, 1_234, 400)
    assert payload[6] == (
        bytes.fromhex(p["benchmarkSpecHash"][2:]),
        b"\xab" * 32,
        b"\xcd" * 32,
        b"\xef" * 32,
        "auroc",
        "rank",
    )
    assert payload[7:] == (b"\x01" * 32, b"\x02" * 32, p["deadline"])
    assert [(a.lower(), w) for a, w in contributors] == [
        (w.lower(), b) for w, b in zip(WALLETS, (6667, 3333), strict=True)
    ]
    assert ["0x" + s.hex() for s in signatures] == request["signatures"]


def test_m_of_n_attesters_sign_in_strictly_ascending_address_order() -> None:
    keys = ["0x" + f"{i:02x}" * 32 for i in (7, 8, 9)]
    attesters = AttesterSet(tuple(LocalAttester(Account.from_key(k)) for k in keys), threshold=2)
    request = mint_request(
        parse_payload(KAT_PAYLOAD),
        attesters,
        chain_id=KAT_CHAIN,
        verifying_contract=KAT_CONTRACT,
        now=KAT_NOW,
    )
    digest = bytes.fromhex(request["typedDataDigest"][2:])
    signers = request["signerAddresses"]
    assert len(signers) == len(request["signatures"]) == 2
    assert [int(a, 16) for a in signers] == sorted(int(a, 16) for a in signers)
    assert set(signers) == {Account.from_key(k).address for k in keys[:2]}  # the first m configured
    assert [recover(digest, s) for s in request["signatures"]] == signers


def test_every_signature_has_a_low_s() -> None:
    half_n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
    for key in ("0x" + f"{i:02x}" * 32 for i in range(1, 21)):
        signature = bytes.fromhex(_sign_with(key)[2:])
        assert int.from_bytes(signature[32:64], "big") <= half_n and signature[64] in (27, 28)


def _sign_with(key: str) -> str:
    return mint_request(
        parse_payload(KAT_PAYLOAD),
        one_attester(key),
        chain_id=KAT_CHAIN,
        verifying_contract=KAT_CONTRACT,
        now=KAT_NOW,
    )["signatures"][0]


# ---------------------------------------------------------------------------------------------
# Field mapping
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "bps"),
    [(0.9104, 9104), (0.12345, 1234), (0.12355, 1236), (0.00005, 0), (0.00015, 2), (1.0, 10000), (0.0, 0)],
)
def test_scores_are_the_metric_times_10000_rounded_half_to_even(metric: float, bps: int) -> None:
    assert score_bps(metric) == bps


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1, True, "0.9"])
def test_a_score_that_is_no_finite_non_negative_number_is_refused(bad: Any) -> None:
    with pytest.raises(InvalidInput):
        score_bps(bad)


def test_hashes_are_mapped_as_documented() -> None:
    assert benchmark_spec_hash("spec-1") == "0x" + keccak(b"spec-1").hex()
    document = {"b": 1, "a": [1.0, "x"]}
    digest = attestation_hash(document)
    assert digest == "0x" + hashlib.sha256(b'{"a":[1,"x"],"b":1}').hexdigest()
    assert idempotency_key(42, digest) == "0x" + hashlib.sha256(f"42:{digest[2:]}".encode()).hexdigest()


def test_the_actual_cost_is_compute_seconds_times_the_hourly_price_in_micro_dollars() -> None:
    assert cost_usd_micro(3600, 0.05826) == 58_260
    assert cost_usd_micro(90.5, 0.05826) == 1_465  # 1464.65 -> 1465
    assert cost_usd_micro(0, 1.0) == 0


def _run_payload(sealed: Sealed, settings: Settings, accepted: bool = True) -> MintPayload:
    return payload_for_run(
        model_id=7,
        attestation=sealed.document,
        report={"outcome": {"accepted": accepted, "primary_metric": "auroc"}},
        spec_id="spec-1",
        metric_family="rank",
        max_cost_usd_micro=9_000_000,
        compute_seconds=10.0,
        baseline_commitment="0x" + "01" * 32,
        candidate_commitment="0x" + "02" * 32,
        settings=settings,
        now=KAT_NOW,
    )


def test_an_accepted_runs_payload_maps_every_field(sealed: Sealed, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mint_deadline_seconds=3600, compute_price_usd_per_hour=3.6)
    payload = _run_payload(sealed, settings)
    flat = payload_fields(payload)
    digest = "0x" + canonical_hash(sealed.document)
    assert flat["modelId"] == "7"
    assert flat["pipelineRunId"] == sealed.document["metadata"]["pipeline_run_id"]
    assert (flat["baselineScoreBps"], flat["candidateScoreBps"]) == (8800, 9100)  # auroc 0.88 -> 0.91
    assert (flat["totalSamples"], flat["actualCostUsdMicro"]) == (400, 10_000)  # 10 s at 3.6 USD/h
    assert flat["maxCostUsdMicro"] == 9_000_000
    assert flat["datasetHash"] == "0x" + HASH["bench"]
    assert flat["attestationHash"] == digest
    assert flat["idempotencyKey"] == idempotency_key(7, digest)
    assert flat["benchmarkSpecHash"] == benchmark_spec_hash("spec-1")
    assert (flat["metricName"], flat["metricFamily"], flat["deadline"]) == ("auroc", "rank", KAT_NOW + 3600)
    assert flat["contributors"] == [
        {"walletAddress": WALLETS[0], "weight": 6667},
        {"walletAddress": WALLETS[1], "weight": 3333},
    ]
    assert parse_payload(flat) == payload  # the flat form reads back


def test_a_run_that_was_not_accepted_has_no_mint_payload(sealed: Sealed, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="only an accepted run"):
        _run_payload(sealed, Settings(data_dir=tmp_path), accepted=False)


def test_mint_requests_from_settings_need_the_contract_address(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HOKUSAI_DELTA_VERIFIER_ADDRESS"):
        settings_mint_domain(Settings(data_dir=tmp_path))
    domain = settings_mint_domain(
        Settings(data_dir=tmp_path, chain_id=5, delta_verifier_address=KAT_CONTRACT.lower())
    )
    assert (domain["chainId"], domain["verifyingContract"]) == (5, KAT_CONTRACT)


# ---------------------------------------------------------------------------------------------
# The flat payload and the contract's rules
# ---------------------------------------------------------------------------------------------


def test_a_payload_file_with_problems_names_every_one() -> None:
    bad = {k: v for k, v in KAT_PAYLOAD.items() if k != "deadline"}
    bad.update(extra=1, datasetHash="0x12", totalSamples=-1)
    bad["contributors"] = [{"walletAddress": "0xnothex", "weight": 1}]
    with pytest.raises(InvalidInput) as caught:
        parse_payload(bad)
    details = " | ".join(caught.value.details)
    for needle in (
        "missing field deadline",
        "unknown field extra",
        "datasetHash must be 0x",
        "totalSamples must be",
    ):
        assert needle in details
    assert "contributors[0].walletAddress" in details
    assert "\n" not in caught.value.message


def _violations(**change: Any) -> list[str]:
    fields = copy.deepcopy(KAT_PAYLOAD)
    fields.update(change)
    return contract_rule_violations(parse_payload(fields), now=KAT_NOW)


ZERO = "0x" + "00" * 20
RULES = {
    "score above 10000": ({"candidateScoreBps": 10_001}, "exceeds 10000"),
    "weights short of 10000": (
        {"contributors": [{"walletAddress": WALLETS[0], "weight": 9999}]},
        "sum to 9999",
    ),
    "duplicate contributor": (
        {"contributors": [{"walletAddress": w, "weight": 5000} for w in (WALLETS[0], WALLETS[0])]},
        "appears twice",
    ),
    "zero address": ({"contributors": [{"walletAddress": ZERO, "weight": 10000}]}, "zero address"),
    "101 contributors": (
        {
            "contributors": [
                {"walletAddress": "0x" + f"{i + 1:040x}", "weight": 100 if i else 0} for i in range(101)
            ]
        },
        "more than 100",
    ),
    "zero idempotency key": ({"idempotencyKey": "0x" + "00" * 32}, "idempotencyKey is zero"),
    "deadline not in the future": ({"deadline": KAT_NOW}, "not in the future"),
    "zero candidate commitment": ({"candidateCommitment": "0x" + "00" * 32}, "candidateCommitment is zero"),
}


@pytest.mark.parametrize("rule", RULES)
def test_each_contract_rule_is_checked_before_signing(rule: str) -> None:
    change, needle = RULES[rule]
    problems = _violations(**change)
    assert any(needle in p for p in problems), problems
    fields = copy.deepcopy(KAT_PAYLOAD)
    fields.update(change)
    with pytest.raises(InvalidInput, match="refused"):
        mint_request(
            parse_payload(fields),
            one_attester(),
            chain_id=KAT_CHAIN,
            verifying_contract=KAT_CONTRACT,
            now=KAT_NOW,
        )


def test_the_known_answer_payload_breaks_no_rule() -> None:
    assert _violations() == []
