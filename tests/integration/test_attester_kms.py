"""KMS attesters against the moto server's KMS: ECC_SECG_P256K1 SIGN_VERIFY keys, addresses learned
with ``kms:Sign`` alone, DER signatures turned into low-s ``r ‖ s ‖ v``.

What moto does not do: ``MessageType=DIGEST``. moto signs SHA-256 of whatever message it is given
(it reads MessageType and ignores it), so a DIGEST signature of an EIP-712 digest from moto is a
signature of SHA-256(digest). The attester's DIGEST path is therefore tested on a local stand-in
for KMS (tests/unit/attestation/test_attesters.py); here everything moto does as AWS does is used:
key creation with the key spec, RAW signatures (AWS also signs SHA-256 of a RAW message), their DER
encoding, aliases, and GetPublicKey to cross-check the address the attester learned without it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_der_public_key
from eth_keys import keys

from hokusai.attestation.attesters import load_attesters, published_signers
from hokusai.attestation.eip712 import HALF_N, recover
from hokusai.attestation.kms import KmsAttester, signature_from_der
from hokusai.config import Settings
from tests.support.moto import MotoServer

pytestmark = pytest.mark.realparts


@pytest.fixture
def kms(moto_server: MotoServer) -> Any:
    import boto3

    return boto3.client("kms", endpoint_url=moto_server.endpoint, region_name="us-east-1")


def _attester_key(kms: Any, alias: str | None = None) -> str:
    key_id = kms.create_key(KeySpec="ECC_SECG_P256K1", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id


def _address_from_public_key(kms: Any, key_id: str) -> str:
    numbers = load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"]).public_numbers()  # type: ignore[union-attr]
    return keys.PublicKey(numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")).to_checksum_address()


def test_moto_creates_secp256k1_signing_keys(kms: Any) -> None:
    metadata = kms.describe_key(KeyId=_attester_key(kms))["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == ("ECC_SECG_P256K1", "SIGN_VERIFY")
    assert metadata["SigningAlgorithms"] == ["ECDSA_SHA_256"]


def test_the_address_learned_from_sign_alone_is_the_keys_public_key_address(kms: Any) -> None:
    key_id = _attester_key(kms, "alias/hokusai-test-attester-1")
    learned = KmsAttester("alias/hokusai-test-attester-1", kms).address
    assert learned == _address_from_public_key(kms, key_id)


def test_a_kms_der_signature_becomes_a_low_s_signature_that_recovers_to_the_key(kms: Any) -> None:
    key_id = _attester_key(kms)
    address = _address_from_public_key(kms, key_id)
    for i in range(12):  # RAW: KMS signs SHA-256 of the message, so that is the digest recovered from
        message = f"message {i}".encode()
        der = kms.sign(KeyId=key_id, Message=message, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
        digest = hashlib.sha256(message).digest()
        signature = signature_from_der(der["Signature"], digest, address)
        assert int.from_bytes(signature[32:64], "big") <= HALF_N
        assert recover(digest, signature) == address


def test_settings_with_kms_key_ids_give_the_published_attester_set(kms: Any, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ids = [_attester_key(kms, f"alias/hokusai-test-set-{i}") for i in range(2)]
    settings = Settings(
        data_dir=tmp_path,
        environment="production",
        attester_kms_key_ids="alias/hokusai-test-set-0,alias/hokusai-test-set-1",
        attester_threshold=2,
        chain_id=8453,
    )
    attesters = load_attesters(settings, kms_client=kms)
    expected = sorted((_address_from_public_key(kms, i) for i in ids), key=lambda a: int(a, 16))
    assert published_signers(settings, attesters) == {
        "signers": expected,
        "threshold": 2,
        "chain_id": 8453,
        "verifying_contract": None,
    }
    assert not (tmp_path / "keys").exists()  # no file key was made or read
