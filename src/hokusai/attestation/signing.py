"""The attestation signature: EIP-712 typed data signed by the platform's first attester.

Signed message (EIP-712)::

    domain    {name: "Hokusai Attestation", version: "1", chainId: HOKUSAI_CHAIN_ID,
               verifyingContract: HOKUSAI_DELTA_VERIFIER_ADDRESS (only when set)}
    Attestation(string runId, bytes32 hashTreeRoot, bytes32 publicInputsHash)

The domain is recorded in the evaluation report (``attestation_domain``), a leaf of the hash tree,
because schema v1 has no field for it (every section is ``additionalProperties: false``); the verifier
reads it there and checks it against the domains and signers the platform has published
(:class:`PublishedSigner`, a history: a new verifying contract or signer never invalidates what was
signed under an earlier one). Documents sealed before the
domain had a chain id (no ``attestation_domain`` in their report) were signed under
:data:`LEGACY_DOMAIN` ``{name, version}``. Local keys sign with RFC 6979 nonces, so the same message
gives the same signature. Where the keys come from: :mod:`hokusai.attestation.attesters`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hokusai.attestation.attesters import Attester, LocalAttester, load_attesters
from hokusai.attestation.eip712 import domain_type, recover, typed_data_digest
from hokusai.config import Settings
from hokusai.errors import InvalidInput

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

DOMAIN_NAME = "Hokusai Attestation"
DOMAIN_VERSION = "1"
DEFAULT_CHAIN_ID = 1
LEGACY_DOMAIN: dict[str, Any] = {"name": DOMAIN_NAME, "version": DOMAIN_VERSION}
REPORT_FIELD = "attestation_domain"
ATTESTATION_TYPE = [
    {"name": "runId", "type": "string"},
    {"name": "hashTreeRoot", "type": "bytes32"},
    {"name": "publicInputsHash", "type": "bytes32"},
]


def attestation_domain(
    chain_id: int = DEFAULT_CHAIN_ID, verifying_contract: str | None = None
) -> dict[str, Any]:
    """The attestation's EIP-712 domain for a chain (and a verifying contract when there is one)."""
    domain: dict[str, Any] = {**LEGACY_DOMAIN, "chainId": chain_id}
    if verifying_contract:
        domain["verifyingContract"] = verifying_contract
    return domain


def settings_domain(settings: Settings) -> dict[str, Any]:
    """The domain ``HOKUSAI_CHAIN_ID`` and ``HOKUSAI_DELTA_VERIFIER_ADDRESS`` define (no key needed)."""
    return attestation_domain(settings.chain_id, settings.delta_verifier_address)


def bind_domain(report: Mapping[str, Any], domain: Mapping[str, Any]) -> dict[str, Any]:
    """The report with the signing domain recorded (before the hash tree is computed over it)."""
    return {**report, REPORT_FIELD: dict(domain)}


def recorded_domain(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The signing domain a report records; ``None`` for a report from before domains had a chain."""
    value = report.get(REPORT_FIELD)
    return dict(value) if isinstance(value, Mapping) else None


@dataclass(frozen=True)
class PublishedSigner:
    """A signer the platform published for one attestation domain, from ``valid_from`` until ``valid_to``
    (None: still published). What ``GET /api/v1/attestations/signers`` lists in its ``history``."""

    signer: str
    chain_id: int
    verifying_contract: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    @property
    def domain(self) -> dict[str, Any]:
        """The EIP-712 domain this signer signed attestations under."""
        return attestation_domain(self.chain_id, self.verifying_contract)

    def covers(self, domain: Mapping[str, Any]) -> bool:
        """True when ``domain`` is exactly this entry's domain (addresses compared case-insensitively)."""
        contract = domain.get("verifyingContract")
        ours = self.verifying_contract
        return (
            set(domain) == set(self.domain)
            and (domain.get("name"), domain.get("version")) == (DOMAIN_NAME, DOMAIN_VERSION)
            and type(domain.get("chainId")) is int
            and domain["chainId"] == self.chain_id
            and (contract.lower() if isinstance(contract, str) else contract)
            == (ours.lower() if ours else None)
        )

    def describe(self) -> str:
        contract = self.verifying_contract or "no verifying contract"
        return f"{self.signer} on chain {self.chain_id} with {contract}"


def typed_data(
    run_id: str, hash_tree_root: str, public_inputs_hash: str, domain: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The full EIP-712 message (``eth_signTypedData_v4`` JSON) for one attestation."""
    domain = dict(domain) if domain is not None else attestation_domain()
    return {
        "types": {"EIP712Domain": domain_type(domain), "Attestation": ATTESTATION_TYPE},
        "primaryType": "Attestation",
        "domain": domain,
        "message": {
            "runId": run_id,
            "hashTreeRoot": "0x" + hash_tree_root,
            "publicInputsHash": "0x" + public_inputs_hash,
        },
    }


class Signer:
    """Signs attestations under one domain; exposes only its address."""

    def __init__(self, key: LocalAccount | Attester, domain: Mapping[str, Any] | None = None) -> None:
        self._attester: Attester = key if hasattr(key, "sign_digest") else LocalAttester(key)
        self.domain: dict[str, Any] = dict(domain) if domain is not None else attestation_domain()

    @property
    def address(self) -> str:
        """EIP-55 address of the signer (the attestation's ``verification_key``)."""
        return self._attester.address

    def sign(self, run_id: str, hash_tree_root: str, public_inputs_hash: str) -> str:
        """0x-hex 65-byte signature (r ‖ s ‖ v, low s) of the EIP-712 attestation message."""
        digest = typed_data_digest(typed_data(run_id, hash_tree_root, public_inputs_hash, self.domain))
        return "0x" + self._attester.sign_digest(digest).hex()

    def __repr__(self) -> str:
        return f"Signer(address={self.address}, chainId={self.domain.get('chainId')})"


def recover_signer(
    run_id: str,
    hash_tree_root: str,
    public_inputs_hash: str,
    signature: str,
    domain: Mapping[str, Any] | None = None,
) -> str:
    """The address that produced ``signature`` over this attestation message under ``domain``."""
    if not isinstance(signature, str):
        raise InvalidInput("signature_blob is not a 0x-hex string", code="bad_signature")
    digest = typed_data_digest(typed_data(run_id, hash_tree_root, public_inputs_hash, domain))
    return recover(digest, signature)


def load_signer(settings: Settings, *, create: bool = True) -> Signer:
    """The attestation signer: the first configured attester under the settings' domain."""
    return Signer(load_attesters(settings, create=create).first, settings_domain(settings))
