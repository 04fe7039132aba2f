"""AWS KMS attesters: ``ECC_SECG_P256K1`` ``SIGN_VERIFY`` keys whose private half never leaves KMS.

Signing: ``kms:Sign`` with ``MessageType=DIGEST`` and ``ECDSA_SHA_256`` over the 32-byte EIP-712
digest (KMS signs the given digest as is; the algorithm name only fixes its length). KMS answers
a DER ``ECDSA-Sig-Value``; it becomes ``r ‖ s ‖ v`` with a low ``s`` (EIP-2), ``v`` being the
recovery id under which the signature recovers to the key's address.

The address: the API's task role is granted ``kms:Sign`` on the attester keys and nothing else, so
the attester learns its address with that one permission. It signs two fixed probe messages
(``MessageType=RAW``: KMS signs their SHA-256) and keeps the one public key that both signatures
recover to; a signature alone recovers to at most two candidate keys, two signatures over
different messages share exactly one. Why not ``kms:GetPublicKey``: one permission fewer, and
no configured address that could drift from the key it names (a wrong pair would make every
signature fail on-chain). It costs two ``Sign`` calls per key per process, at load time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hokusai.attestation.eip712 import SECP256K1_N, canonical_signature, recover_address, signature_parts
from hokusai.errors import HokusaiError, InvalidInput, ServiceUnavailable

SIGNING_ALGORITHM = "ECDSA_SHA_256"
KEY_SPEC = "ECC_SECG_P256K1"
PROBES = (b"hokusai attester address probe 1", b"hokusai attester address probe 2")


class SignatureMismatch(HokusaiError):
    """A KMS signature that does not recover to the key's address (never passed on)."""

    code = "attester_signature_mismatch"
    status_code = 502
    exit_code = 1


def der_to_rs(der: bytes) -> tuple[int, int]:
    """``(r, s)`` of a DER ``ECDSA-Sig-Value`` (what KMS returns)."""
    try:
        r, s = decode_dss_signature(der)
    except ValueError:
        raise InvalidInput("KMS returned a signature that is not DER ECDSA-Sig-Value") from None
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise InvalidInput("KMS returned a signature with r or s out of range")
    return r, s


def signature_from_der(der: bytes, digest: bytes, address: str) -> bytes:
    """The 65-byte low-``s`` signature of ``digest`` by ``address`` from a DER signature (v by recovery)."""
    r, s = der_to_rs(der)
    for v in (27, 28):
        candidate = canonical_signature(r, s, v)
        low_r, low_s, low_v = signature_parts(candidate)
        if recover_address(digest, low_r, low_s, low_v) == address:
            return candidate
    raise SignatureMismatch(f"the KMS signature of this digest does not recover to the attester {address}")


def candidate_addresses(digest: bytes, der: bytes) -> set[str]:
    """The addresses one DER signature of ``digest`` can belong to (one per recovery id)."""
    r, s = der_to_rs(der)
    found = set()
    for v in (27, 28):
        try:
            found.add(recover_address(digest, r, s, v))
        except InvalidInput:  # no point on the curve for this recovery id
            continue
    return found


class KmsAttester:
    """An attester whose key is an AWS KMS ``ECC_SECG_P256K1`` key (id, ARN or ``alias/…``)."""

    def __init__(self, key_id: str, client: Any) -> None:
        self.key_id = key_id
        self._client = client
        self._address: str | None = None

    def _sign(self, message: bytes, message_type: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.sign(
                KeyId=self.key_id,
                Message=message,
                MessageType=message_type,
                SigningAlgorithm=SIGNING_ALGORITHM,
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise ServiceUnavailable(
                f"KMS key {self.key_id} cannot sign ({error.get('Code')}: {error.get('Message')})",
                code="attester_unavailable",
            ) from None
        except BotoCoreError as exc:
            raise ServiceUnavailable(
                f"KMS key {self.key_id} cannot sign: {exc}", code="attester_unavailable"
            ) from None
        return bytes(answer["Signature"])

    @property
    def address(self) -> str:
        """The key's EIP-55 address, learned from two probe signatures on first use."""
        if self._address is None:
            common = None
            for probe in PROBES:
                found = candidate_addresses(hashlib.sha256(probe).digest(), self._sign(probe, "RAW"))
                common = found if common is None else common & found
            if not common or len(common) != 1:
                raise SignatureMismatch(f"KMS key {self.key_id} gives no single address: is it {KEY_SPEC}?")
            self._address = common.pop()
        return self._address

    def sign_digest(self, digest: bytes) -> bytes:
        if len(digest) != 32:
            raise InvalidInput("an EIP-712 digest has 32 bytes")
        return signature_from_der(self._sign(digest, "DIGEST"), digest, self.address)

    def __repr__(self) -> str:
        return f"KmsAttester(key_id={self.key_id})"


def kms_attesters(key_ids: Iterable[str], *, client: Any = None) -> list[KmsAttester]:
    """One attester per key id, sharing one boto3 KMS client (region and endpoint from the AWS settings)."""
    if client is None:
        import boto3

        client = boto3.client("kms")
    return [KmsAttester(key_id, client) for key_id in key_ids]
