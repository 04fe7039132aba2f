"""EIP-712 digests and 65-byte ECDSA signatures, shared by attestations and mint requests.

The digest is eth-account's: ``keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message))`` of
``encode_typed_data(full_message=...)``. A signature is ``r ‖ s ‖ v`` (32 + 32 + 1 bytes, v 27 or 28)
with a low ``s`` (EIP-2: ``s ≤ n/2``), the only form OpenZeppelin's ``ECDSA.recover`` accepts; a
high-``s`` signature is refused on recovery too, so a signature has exactly one accepted encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError as EthValidationError

from hokusai.errors import InvalidInput

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2
SIGNATURE_BYTES = 65

DOMAIN_FIELDS = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)


def domain_type(domain: Mapping[str, Any]) -> list[dict[str, str]]:
    """The ``EIP712Domain`` fields ``domain`` uses, in the order EIP-712 lists them."""
    return [{"name": name, "type": kind} for name, kind in DOMAIN_FIELDS if name in domain]


def typed_data_digest(full_message: Mapping[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest of an ``eth_signTypedData_v4`` message (eth-account's encoding); a
    message it cannot encode (e.g. a domain with a field its type does not list, from a document being
    verified) is ``InvalidInput``, not eth-utils' own exception."""
    # _hash_eip191_message is eth-account's own keccak256(0x19 ‖ version ‖ header ‖ body). Imported here:
    # eth-account's import (~0.45 s: eth-keyfile, py_ecc) is paid by what signs or verifies, when it does.
    from eth_account.messages import _hash_eip191_message, encode_typed_data

    try:
        return bytes(_hash_eip191_message(encode_typed_data(full_message=dict(full_message))))
    except (EthValidationError, ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(f"the EIP-712 message cannot be encoded: {exc}", code="bad_typed_data") from None


def canonical_signature(r: int, s: int, v: int) -> bytes:
    """``r ‖ s ‖ v`` with a low ``s``: a high ``s`` is replaced by ``n - s`` and ``v`` flipped (EIP-2)."""
    if v in (0, 1):
        v += 27
    if s > HALF_N:
        s, v = SECP256K1_N - s, 55 - v  # 27 <-> 28
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def signature_parts(signature: bytes | str) -> tuple[int, int, int]:
    """``(r, s, v)`` of a 65-byte (or 0x-hex) signature; v is 27 or 28."""
    try:
        raw = bytes.fromhex(signature.removeprefix("0x")) if isinstance(signature, str) else bytes(signature)
    except ValueError:
        raise InvalidInput("signature is not hex", code="bad_signature") from None
    if len(raw) != SIGNATURE_BYTES:
        raise InvalidInput(f"signature has {len(raw)} bytes, not {SIGNATURE_BYTES}", code="bad_signature")
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        raise InvalidInput(f"signature has v = {v}, not 27 or 28", code="bad_signature")
    return r, s, v


def recover_address(digest: bytes, r: int, s: int, v: int) -> str:
    """The EIP-55 address whose key signed ``digest`` with ``(r, s, v)``; any ``s`` below n is tried."""
    try:
        signature = keys.Signature(vrs=(v - 27, r, s))
        return signature.recover_public_key_from_msg_hash(digest).to_checksum_address()
    except (BadSignature, ValueError) as exc:
        raise InvalidInput(f"signature cannot be recovered: {exc}", code="bad_signature") from None


def recover(digest: bytes, signature: bytes | str) -> str:
    """The signer of ``digest``; a malformed or high-``s`` (malleable) signature is ``InvalidInput``."""
    r, s, v = signature_parts(signature)
    if not 0 < r < SECP256K1_N or not 0 < s <= HALF_N:
        raise InvalidInput("signature has r or s out of range, or a high s (EIP-2)", code="bad_signature")
    return recover_address(digest, r, s, v)
