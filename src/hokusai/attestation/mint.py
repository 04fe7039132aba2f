"""Mint requests for the ``DeltaVerifier`` contract: EIP-712 typed data, m-of-n signatures, calldata.

The contract pays contributors only on ``submitMintRequest(uint256 modelId, MintRequestPayload
payload, Contributor[] contributors, bytes[] attesterSignatures)``, after checking EIP-712
signatures from its registered attesters over::

    domain  {name: "HokusaiDeltaVerifier", version: "1", chainId, verifyingContract}
    MintRequest(uint256 modelId,MintRequestPayload payload,Contributor[] contributors)

with the types of :data:`TYPE_STRINGS` (the ``encodeType`` strings as the contract hashes them;
:data:`TYPES` and the ABI tuple types are derived from them, so there is one definition).

Flow: :func:`parse_payload` (the flat ``--payload FILE`` fields) or :func:`payload_for_run` (from
an accepted run) gives a :class:`MintPayload`; :func:`check_contract_rules` refuses what the
contract would revert on; :func:`mint_request` signs and returns the output object the endpoint
``GET /api/v1/runs/{id}/mint-request`` and ``hokusai attest mint-request`` print.
Field mapping (also in docs/pipeline.md): :func:`score_bps`, :func:`benchmark_spec_hash`,
:func:`dataset_hash`, :func:`attestation_hash`, :func:`idempotency_key`, :func:`cost_usd_micro`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, keccak

from hokusai.attestation.attesters import AttesterSet
from hokusai.attestation.eip712 import domain_type, typed_data_digest
from hokusai.config import Settings, env_name
from hokusai.errors import ConfigError, HokusaiError, InvalidInput
from hokusai.evaluation.weights import TOTAL_BPS
from hokusai.hashing import canonical_hash, sha256_hex
from hokusai.wallet import checksum_address

DOMAIN_NAME = "HokusaiDeltaVerifier"
DOMAIN_VERSION = "1"
PRIMARY_TYPE = "MintRequest"
TYPE_STRINGS: dict[str, str] = {
    "MintRequest": "MintRequest(uint256 modelId,MintRequestPayload payload,Contributor[] contributors)",
    "MintRequestPayload": (
        "MintRequestPayload(string pipelineRunId,uint256 baselineScoreBps,uint256 candidateScoreBps,"
        "uint256 maxCostUsdMicro,uint256 actualCostUsdMicro,uint256 totalSamples,BenchmarkAnchors anchors,"
        "bytes32 baselineCommitment,bytes32 candidateCommitment,uint256 deadline)"
    ),
    "BenchmarkAnchors": (
        "BenchmarkAnchors(bytes32 benchmarkSpecHash,bytes32 datasetHash,bytes32 attestationHash,"
        "bytes32 idempotencyKey,string metricName,string metricFamily)"
    ),
    "Contributor": "Contributor(address walletAddress,uint256 weight)",
}
SUBMIT_FUNCTION = "submitMintRequest"
MAX_SCORE_BPS = 10_000
MAX_CONTRIBUTORS = 100
UINT256_MAX = (1 << 256) - 1
ZERO32 = "0x" + "00" * 32
_BYTES32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _parse_type_string(type_string: str) -> tuple[str, list[dict[str, str]]]:
    match = re.fullmatch(r"(\w+)\((.*)\)", type_string)
    assert match, type_string
    members = [part.split(" ") for part in match.group(2).split(",")]
    return match.group(1), [{"name": name, "type": kind} for kind, name in members]


TYPES: dict[str, list[dict[str, str]]] = dict(_parse_type_string(s) for s in TYPE_STRINGS.values())


def abi_type(kind: str) -> str:
    """The ABI type of an EIP-712 member type: structs become tuples, ``T[]`` arrays of them."""
    if kind.endswith("[]"):
        return abi_type(kind[:-2]) + "[]"
    if kind in TYPES:
        return "(" + ",".join(abi_type(member["type"]) for member in TYPES[kind]) + ")"
    return kind


SUBMIT_ARGUMENTS = ("uint256", abi_type("MintRequestPayload"), abi_type("Contributor") + "[]", "bytes[]")
SUBMIT_SIGNATURE = f"{SUBMIT_FUNCTION}({','.join(SUBMIT_ARGUMENTS)})"
SUBMIT_SELECTOR = function_signature_to_4byte_selector(SUBMIT_SIGNATURE)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class Contributor:
    wallet_address: str
    weight: int


@dataclass(frozen=True)
class MintPayload:
    """Every field of a mint request; :func:`payload_fields` gives the flat camelCase JSON form."""

    model_id: int
    pipeline_run_id: str
    baseline_score_bps: int
    candidate_score_bps: int
    max_cost_usd_micro: int
    actual_cost_usd_micro: int
    total_samples: int
    benchmark_spec_hash: str
    dataset_hash: str
    attestation_hash: str
    idempotency_key: str
    metric_name: str
    metric_family: str
    baseline_commitment: str
    candidate_commitment: str
    deadline: int
    contributors: tuple[Contributor, ...]


PAYLOAD_FIELDS = {_camel(f.name): f.name for f in fields(MintPayload)}
_UINT = {
    "modelId", "baselineScoreBps", "candidateScoreBps", "maxCostUsdMicro", "actualCostUsdMicro",
    "totalSamples", "deadline",
}  # fmt: skip
_BYTES = {
    "benchmarkSpecHash", "datasetHash", "attestationHash", "idempotencyKey", "baselineCommitment",
    "candidateCommitment",
}  # fmt: skip
_STRING = {"pipelineRunId", "metricName", "metricFamily"}


# ---------------------------------------------------------------------------------------------
# Field mapping
# ---------------------------------------------------------------------------------------------


def score_bps(value: float) -> int:
    """A metric value times 10000, rounded half to even (of its shortest decimal form: 0.12345 -> 1234)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"a score must be a finite number, not {value!r}", code="invalid_mint_request")
    bps = (Decimal(repr(float(value))) * TOTAL_BPS).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    if bps < 0:
        raise InvalidInput(f"a score must not be negative, not {value!r}", code="invalid_mint_request")
    return int(bps)


def benchmark_spec_hash(spec_id: str) -> str:
    """keccak256 of the UTF-8 benchmark spec id, 0x-hex."""
    return "0x" + keccak(text=spec_id).hex()


def dataset_hash(sha256: str) -> str:
    """0x + the benchmark file's SHA-256 (``sha256sum``)."""
    if not isinstance(sha256, str) or not _SHA256.match(sha256.removeprefix("0x")):
        raise InvalidInput(f"{sha256!r} is not a SHA-256 hex digest", code="invalid_mint_request")
    return "0x" + sha256.removeprefix("0x").lower()


def attestation_hash(document: Mapping[str, Any]) -> str:
    """0x + SHA-256 of the attestation document's canonical JSON (RFC 8785), the whole sealed document."""
    return "0x" + canonical_hash(dict(document))


def idempotency_key(model_id: int, attestation_hash_hex: str) -> str:
    """0x + SHA-256 of ``"{modelId}:{attestationHash without 0x}"``: one mint per model and attestation."""
    return "0x" + sha256_hex(f"{model_id}:{attestation_hash_hex.removeprefix('0x')}".encode())


def cost_usd_micro(compute_seconds: float, price_usd_per_hour: float) -> int:
    """Compute seconds times the price per hour / 3600, in micro-dollars, rounded half to even."""
    if compute_seconds < 0 or price_usd_per_hour < 0:
        raise InvalidInput("compute time and price must not be negative", code="invalid_mint_request")
    micro = Decimal(repr(float(compute_seconds))) * Decimal(repr(float(price_usd_per_hour))) * 10**6 / 3600
    return int(micro.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def weight_bps(weight: float) -> int:
    """A document contributor's ``weight`` (a fraction) in basis points, as the public inputs give it."""
    return round(weight * TOTAL_BPS)


def payload_for_run(
    *,
    model_id: int,
    attestation: Mapping[str, Any],
    report: Mapping[str, Any],
    spec_id: str,
    metric_family: str,
    max_cost_usd_micro: int,
    compute_seconds: float,
    baseline_commitment: str,
    candidate_commitment: str,
    settings: Settings,
    metric_name: str | None = None,
    now: int | None = None,
) -> MintPayload:
    """The mint payload of an accepted run, every field mapped as docs/pipeline.md lists.

    Scores are the primary metric's baseline and candidate values (the report's ``outcome``);
    ``totalSamples`` the benchmark rows used; contributors in attestation order with ``weight_bps``;
    ``deadline`` = ``now`` (default: the clock) + ``HOKUSAI_MINT_DEADLINE_SECONDS``.
    """
    outcome = report["outcome"]
    if not outcome.get("accepted"):
        raise InvalidInput("only an accepted run has a mint request", code="not_accepted")
    primary = metric_name or outcome["primary_metric"]
    results = attestation["evaluation_results"]
    signed_at = int(time.time()) if now is None else now
    digest = attestation_hash(attestation)
    return MintPayload(
        model_id=model_id,
        pipeline_run_id=attestation["metadata"]["pipeline_run_id"],
        baseline_score_bps=score_bps(results["baseline_metrics"][outcome["primary_metric"]]),
        candidate_score_bps=score_bps(results["new_metrics"][outcome["primary_metric"]]),
        max_cost_usd_micro=max_cost_usd_micro,
        actual_cost_usd_micro=cost_usd_micro(compute_seconds, settings.compute_price_usd_per_hour),
        total_samples=int(results["benchmark_metadata"]["size"]),
        benchmark_spec_hash=benchmark_spec_hash(spec_id),
        dataset_hash=dataset_hash(results["benchmark_metadata"]["dataset_hash"]),
        attestation_hash=digest,
        idempotency_key=idempotency_key(model_id, digest),
        metric_name=primary,
        metric_family=metric_family,
        baseline_commitment=baseline_commitment,
        candidate_commitment=candidate_commitment,
        deadline=signed_at + settings.mint_deadline_seconds,
        contributors=tuple(
            Contributor(checksum_address(c["wallet_address"]), weight_bps(c["weight"]))
            for c in attestation["contributors"]
        ),
    )


# ---------------------------------------------------------------------------------------------
# The flat payload (``--payload FILE``) and the contract's rules
# ---------------------------------------------------------------------------------------------


def _uint(name: str, value: Any, problems: list[str]) -> int:
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT256_MAX:
        problems.append(f"{name} must be a uint256 (a non-negative integer or decimal string), not {value!r}")
        return 0
    return value


def _bytes32(name: str, value: Any, problems: list[str]) -> str:
    if not isinstance(value, str) or not _BYTES32.match(value):
        problems.append(f"{name} must be 0x followed by 64 hex digits, not {value!r}")
        return ZERO32
    return value.lower()


def _contributors(value: Any, problems: list[str]) -> tuple[Contributor, ...]:
    if not isinstance(value, list):
        problems.append("contributors must be a list of {walletAddress, weight}")
        return ()
    found = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) != {"walletAddress", "weight"}:
            problems.append(f"contributors[{i}] must have exactly walletAddress and weight")
            continue
        try:
            address = checksum_address(item["walletAddress"])
        except HokusaiError as exc:
            problems.append(f"contributors[{i}].walletAddress: {exc.message}")
            continue
        found.append(Contributor(address, _uint(f"contributors[{i}].weight", item["weight"], problems)))
    return tuple(found)


def _refuse(problems: Sequence[str], what: str) -> None:
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        raise InvalidInput(f"{what}: {shown}", code="invalid_mint_request", details=list(problems))


def parse_payload(data: Mapping[str, Any]) -> MintPayload:
    """A payload from the flat camelCase fields (the ``--payload FILE`` form); every problem is named."""
    if not isinstance(data, Mapping):
        raise InvalidInput("a mint payload is a JSON object", code="invalid_mint_request")
    problems = [f"missing field {name}" for name in PAYLOAD_FIELDS if name not in data]
    problems += [f"unknown field {name}" for name in data if name not in PAYLOAD_FIELDS]
    values: dict[str, Any] = {}
    for name, attribute in PAYLOAD_FIELDS.items():
        value = data.get(name)
        if name not in data:
            continue
        if name in _UINT:
            values[attribute] = _uint(name, value, problems)
        elif name in _BYTES:
            values[attribute] = _bytes32(name, value, problems)
        elif name in _STRING:
            if not isinstance(value, str):
                problems.append(f"{name} must be a string, not {value!r}")
            values[attribute] = str(value)
        else:
            values[attribute] = _contributors(value, problems)
    _refuse(problems, "invalid mint payload")
    return MintPayload(**values)


def payload_fields(payload: MintPayload) -> dict[str, Any]:
    """The flat camelCase form (``modelId`` as a decimal string, as the payload file has it)."""
    flat: dict[str, Any] = {_camel(f.name): getattr(payload, f.name) for f in fields(MintPayload)}
    flat["modelId"] = str(payload.model_id)
    flat["contributors"] = [
        {"walletAddress": c.wallet_address, "weight": c.weight} for c in payload.contributors
    ]
    return flat


def contract_rule_violations(payload: MintPayload, *, now: int) -> list[str]:
    """What the contract would revert on, in words (empty when it would accept the fields)."""
    problems = []
    for name in ("baseline_score_bps", "candidate_score_bps"):
        if getattr(payload, name) > MAX_SCORE_BPS:
            problems.append(f"{_camel(name)} {getattr(payload, name)} exceeds {MAX_SCORE_BPS} bps")
    weights = sum(c.weight for c in payload.contributors)
    if weights != TOTAL_BPS:
        problems.append(f"contributor weights sum to {weights}, not exactly {TOTAL_BPS}")
    if len(payload.contributors) > MAX_CONTRIBUTORS:
        problems.append(f"{len(payload.contributors)} contributors, more than {MAX_CONTRIBUTORS}")
    seen: set[str] = set()
    for c in payload.contributors:
        if int(c.wallet_address, 16) == 0:
            problems.append("a contributor has the zero address")
        elif c.wallet_address in seen:
            problems.append(f"contributor {c.wallet_address} appears twice")
        seen.add(c.wallet_address)
    if int(payload.idempotency_key, 16) == 0:
        problems.append("idempotencyKey is zero")
    if payload.deadline <= now:
        problems.append(f"deadline {payload.deadline} is not in the future (now {now})")
    if int(payload.candidate_commitment, 16) == 0:
        problems.append("candidateCommitment is zero")
    return problems


def check_contract_rules(payload: MintPayload, *, now: int | None = None) -> None:
    """Refuse (``InvalidInput``, every violation named) a payload the contract would revert on."""
    _refuse(contract_rule_violations(payload, now=int(time.time()) if now is None else now), "refused")


# ---------------------------------------------------------------------------------------------
# Typed data, digest, signatures, calldata
# ---------------------------------------------------------------------------------------------


def mint_domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """The contract's EIP-712 domain."""
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 1:
        raise InvalidInput(
            f"chain id must be a positive integer, not {chain_id!r}", code="invalid_mint_request"
        )
    address = checksum_address(verifying_contract)
    if int(address, 16) == 0:
        raise InvalidInput("the verifying contract must not be the zero address", code="invalid_mint_request")
    return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id, "verifyingContract": address}


def settings_mint_domain(settings: Settings) -> dict[str, Any]:
    """The domain of ``HOKUSAI_CHAIN_ID`` and ``HOKUSAI_DELTA_VERIFIER_ADDRESS`` (required here)."""
    if settings.delta_verifier_address is None:
        raise ConfigError(
            f"mint requests need {env_name('delta_verifier_address')} (the DeltaVerifier contract)"
        )
    return mint_domain(settings.chain_id, settings.delta_verifier_address)


def typed_message(payload: MintPayload, domain: Mapping[str, Any]) -> dict[str, Any]:
    """The full ``eth_signTypedData_v4`` JSON: ``{types, primaryType, domain, message}``."""
    flat = payload_fields(payload)
    anchors = {member["name"]: flat[member["name"]] for member in TYPES["BenchmarkAnchors"]}
    body = {
        member["name"]: anchors if member["name"] == "anchors" else flat[member["name"]]
        for member in TYPES["MintRequestPayload"]
    }
    return {
        "types": {"EIP712Domain": domain_type(domain), **TYPES},
        "primaryType": PRIMARY_TYPE,
        "domain": dict(domain),
        "message": {"modelId": flat["modelId"], "payload": body, "contributors": flat["contributors"]},
    }


def _abi_value(kind: str, value: Any) -> Any:
    if kind.endswith("[]"):
        return [_abi_value(kind[:-2], item) for item in value]
    if kind in TYPES:
        return tuple(_abi_value(m["type"], value[m["name"]]) for m in TYPES[kind])
    if kind.startswith("uint"):
        return int(value)
    if kind == "bytes32":
        return bytes.fromhex(value.removeprefix("0x"))
    return value


def submit_calldata(message: Mapping[str, Any], signatures: Sequence[bytes]) -> str:
    """0x-hex ABI encoding of ``submitMintRequest(modelId, payload, contributors, signatures)``."""
    arguments = [
        int(message["modelId"]),
        _abi_value("MintRequestPayload", message["payload"]),
        _abi_value("Contributor[]", message["contributors"]),
        list(signatures),
    ]
    return "0x" + (SUBMIT_SELECTOR + encode(list(SUBMIT_ARGUMENTS), arguments)).hex()


def mint_request(
    payload: MintPayload,
    attesters: AttesterSet,
    *,
    chain_id: int,
    verifying_contract: str,
    now: int | None = None,
) -> dict[str, Any]:
    """The signed mint request: ``{domain, types, primaryType, message, typedDataDigest, signatures,
    signerAddresses, submitCalldata}``; refused (``InvalidInput``) when the contract would revert."""
    check_contract_rules(payload, now=now)
    typed = typed_message(payload, mint_domain(chain_id, verifying_contract))
    digest = typed_data_digest(typed)
    signed = attesters.sign(digest)
    signatures = [signature for _address, signature in signed]
    return {
        **typed,
        "typedDataDigest": "0x" + digest.hex(),
        "signatures": ["0x" + s.hex() for s in signatures],
        "signerAddresses": [address for address, _signature in signed],
        "submitCalldata": submit_calldata(typed["message"], signatures),
    }


def settings_mint_request(
    settings: Settings, payload: MintPayload, attesters: AttesterSet, *, now: int | None = None
) -> dict[str, Any]:
    """:func:`mint_request` for the chain and contract of the settings (what the endpoint returns)."""
    domain = settings_mint_domain(settings)
    return mint_request(
        payload,
        attesters,
        chain_id=domain["chainId"],
        verifying_contract=domain["verifyingContract"],
        now=now,
    )
