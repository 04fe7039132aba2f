"""Attestations: the signed document, its hash tree, EIP-712 signing and verification."""

from hokusai.attestation.signing import Signer, load_signer
from hokusai.attestation.verify import Check, Verdict, verify_attestation

__all__ = ["Check", "Signer", "Verdict", "load_signer", "verify_attestation"]
