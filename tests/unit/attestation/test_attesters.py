"""Attester sets: key files, the signer key by default, the threshold, production's KMS-only rule, and
the KMS signature conversion (DER -> r ‖ s ‖ v, low s, v by recovery).

moto's KMS (tests/integration/test_attester_kms.py) creates ECC_SECG_P256K1 keys and signs RAW
messages, but ignores ``MessageType=DIGEST`` (it hashes the digest again), so the DIGEST path is
tested here on a local stand-in for KMS that signs exactly the digest it is given, in DER, with a
secp256k1 key of the ``cryptography`` package (the library that moto's and KMS's DER comes from).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from eth_account import Account
from eth_keys import keys

from hokusai.attestation.attesters import LocalAttester, load_attesters, published_signers
from hokusai.attestation.eip712 import HALF_N, recover
from hokusai.attestation.kms import KmsAttester, SignatureMismatch, signature_from_der
from hokusai.attestation.signing import load_signer
from hokusai.config import Settings
from hokusai.errors import ConfigError, ServiceUnavailable

CONTRACT = "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"


def _key_file(path: Path, key: str, mode: int = 0o600) -> Path:
    path.write_text(key + "\n")
    os.chmod(path, mode)
    return path


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path, **values)


class LocalKms:
    """Stand-in for KMS ``Sign`` (no real KMS here): DER ECDSA over the digest as given (DIGEST) or over
    SHA-256 of the message (RAW), as AWS documents both."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.calls: list[str] = []

    def create(self, key_id: str) -> str:
        self.keys[key_id] = ec.generate_private_key(ec.SECP256K1())
        numbers = self.keys[key_id].public_key().public_numbers()
        return keys.PublicKey(
            numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
        ).to_checksum_address()

    def sign(self, *, KeyId: str, Message: bytes, MessageType: str, SigningAlgorithm: str) -> dict[str, Any]:
        assert SigningAlgorithm == "ECDSA_SHA_256"
        self.calls.append(MessageType)
        algorithm = Prehashed(hashes.SHA256()) if MessageType == "DIGEST" else hashes.SHA256()
        return {"Signature": self.keys[KeyId].sign(Message, ec.ECDSA(algorithm))}


def test_by_default_the_signer_key_alone_attests_with_threshold_one(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    attesters = load_attesters(settings)
    assert attesters.threshold == 1
    assert attesters.addresses == [load_signer(settings).address]


def test_key_files_give_an_m_of_n_set_whose_first_signs_attestations(tmp_path: Path) -> None:
    keys_ = [Account.create() for _ in range(3)]
    files = [_key_file(tmp_path / f"a{i}.key", k.key.hex()) for i, k in enumerate(keys_)]
    settings = _settings(tmp_path, attester_key_files=",".join(map(str, files)), attester_threshold=2)
    attesters = load_attesters(settings)
    assert attesters.addresses == sorted((k.address for k in keys_), key=lambda a: int(a, 16))
    assert load_signer(settings).address == keys_[0].address
    assert published_signers(settings, attesters) == {
        "signers": attesters.addresses,
        "threshold": 2,
        "chain_id": 1,
        "verifying_contract": None,
    }


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"attester_threshold": 3}, "HOKUSAI_ATTESTER_THRESHOLD=3 needs between 1 and the 2"),
        ({"mode": 0o644}, "readable by group or others"),
        ({"missing": True}, "does not exist"),
        ({"duplicate": True}, "the same key"),
    ],
)
def test_a_broken_attester_set_is_one_config_error(
    tmp_path: Path, change: dict[str, Any], needle: str
) -> None:
    first = _key_file(tmp_path / "a.key", Account.create().key.hex(), change.get("mode", 0o600))
    second = first if change.get("duplicate") else _key_file(tmp_path / "b.key", Account.create().key.hex())
    if change.get("missing"):
        second = tmp_path / "nope.key"
    settings = _settings(
        tmp_path,
        attester_key_files=f"{first},{second}",
        attester_threshold=change.get("attester_threshold", 1),
    )
    with pytest.raises(ConfigError) as caught:
        load_attesters(settings)
    assert needle in caught.value.message and "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({}, "set HOKUSAI_ATTESTER_KMS_KEY_IDS"),
        ({"signer_key": "11" * 32}, "unset HOKUSAI_SIGNER_KEY and set HOKUSAI_ATTESTER_KMS_KEY_IDS"),
        ({"attester_key_files": "/k", "attester_kms_key_ids": "alias/a"}, "unset HOKUSAI_ATTESTER_KEY_FILES"),
    ],
)
def test_production_refuses_file_and_environment_keys(
    tmp_path: Path, values: dict[str, Any], needle: str
) -> None:
    settings = _settings(tmp_path, environment="production", **values)
    with pytest.raises(ConfigError) as caught:
        load_attesters(settings)
    message = caught.value.message
    assert (
        message.startswith("production signs with AWS KMS only") and needle in message and "\n" not in message
    )
    assert "11" * 32 not in message
    assert not (tmp_path / "keys").exists()  # no key file was created either


def test_production_loads_kms_attesters(tmp_path: Path) -> None:
    kms = LocalKms()
    addresses = [kms.create("alias/a1"), kms.create("alias/a2")]
    settings = _settings(
        tmp_path, environment="production", attester_kms_key_ids="alias/a1, alias/a2", attester_threshold=2
    )
    attesters = load_attesters(settings, kms_client=kms)
    assert attesters.addresses == sorted(addresses, key=lambda a: int(a, 16))
    assert set(kms.calls) == {"RAW"}  # the addresses came from kms:Sign probes, not kms:GetPublicKey


def test_a_kms_attester_learns_its_address_from_two_probe_signatures() -> None:
    kms = LocalKms()
    address = kms.create("k")
    attester = KmsAttester("k", kms)
    assert attester.address == address
    assert kms.calls == ["RAW", "RAW"]
    assert attester.address == address and len(kms.calls) == 2  # learned once


def test_kms_signatures_become_low_s_r_s_v_that_recover_to_the_key() -> None:
    kms = LocalKms()
    attester = KmsAttester("k", kms)
    address = kms.create("k")
    high_s_seen = 0
    for i in range(40):  # about half of ECDSA signatures come out of KMS with a high s
        digest = bytes([i]) * 32
        der = kms.sign(KeyId="k", Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
        high_s_seen += decode_dss_signature(der["Signature"])[1] > HALF_N
        signature = attester.sign_digest(digest)
        assert len(signature) == 65 and signature[64] in (27, 28)
        assert int.from_bytes(signature[32:64], "big") <= HALF_N
        assert recover(digest, signature) == address
    assert high_s_seen > 0  # the normalisation was exercised


def test_a_der_signature_by_another_key_is_never_passed_on() -> None:
    kms = LocalKms()
    kms.create("k")
    digest = b"\x07" * 32
    der = kms.sign(KeyId="k", Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]
    with pytest.raises(SignatureMismatch, match="does not recover"):
        signature_from_der(der, digest, Account.create().address)


def test_a_kms_error_names_the_key_and_the_error_code() -> None:
    from botocore.exceptions import ClientError

    class Refusing:
        def sign(self, **_kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Sign")

    with pytest.raises(
        ServiceUnavailable, match=r"KMS key alias/x cannot sign \(AccessDeniedException: no\)"
    ):
        KmsAttester("alias/x", Refusing()).address  # noqa: B018


def test_a_local_attester_never_shows_its_key() -> None:
    account = Account.create()
    attester = LocalAttester(account)
    assert account.key.hex().removeprefix("0x") not in repr(attester)
    assert attester.address in repr(attester)


def test_a_deployed_environment_never_creates_a_signing_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="staging never creates one"):
        load_attesters(_settings(tmp_path, environment="staging"))
    assert not (tmp_path / "keys").exists()
    account = Account.create()  # outside production a configured environment key still works
    assert load_signer(_settings(tmp_path, environment="staging", signer_key=account.key.hex())).address == (
        account.address
    )
