"""Attestations: the signed document, its hash tree, EIP-712 signing and verification; the attesters.

Mint requests for the DeltaVerifier contract are in ``hokusai.attestation.mint``, weight
commitments in ``hokusai.attestation.commitment``.
"""

from hokusai.attestation.attesters import AttesterSet, load_attesters, published_signers
from hokusai.attestation.signing import Signer, load_signer
from hokusai.attestation.verify import Check, Verdict, verify_attestation

__all__ = [
    "AttesterSet",
    "Check",
    "Signer",
    "Verdict",
    "load_attesters",
    "load_signer",
    "published_signers",
    "verify_attestation",
]
