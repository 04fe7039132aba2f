"""The platform's attesters: n signers and a threshold m, loaded from the settings.

* Development: local secp256k1 key files (``HOKUSAI_ATTESTER_KEY_FILES``, comma list); unset, the
  existing signer key alone (``HOKUSAI_SIGNER_KEY``, else ``HOKUSAI_SIGNER_KEY_FILE``, created on
  first use with mode 0600 and linked into place atomically), threshold 1.
* Deployed: AWS KMS keys (``HOKUSAI_ATTESTER_KMS_KEY_IDS``; see :mod:`hokusai.attestation.kms`).
* ``HOKUSAI_ENVIRONMENT=production`` refuses file and environment keys; staging and production never
  create a key file (a deployed process without a configured key must not sign with a fresh one).

The first attester signs the attestation document (schema v1 has one signature); a mint request
is signed by ``HOKUSAI_ATTESTER_THRESHOLD`` of them. Keys are never logged or shown.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from eth_typing import Hash32

from hokusai.attestation.eip712 import canonical_signature
from hokusai.config import Settings, env_name
from hokusai.errors import ConfigError
from hokusai.files import create_secret_file, read_secret_file

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

DEPLOYED = ("staging", "production")


class Attester(Protocol):
    """One signer of EIP-712 digests."""

    @property
    def address(self) -> str:
        """Its EIP-55 address."""
        ...

    def sign_digest(self, digest: bytes) -> bytes:
        """65-byte ``r ‖ s ‖ v`` signature of a 32-byte digest, low ``s``, v 27 or 28."""
        ...


class LocalAttester:
    """An attester whose private key is in this process (development, tests, offline signing)."""

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @property
    def address(self) -> str:
        return self._account.address

    def sign_digest(self, digest: bytes) -> bytes:
        # eth-account signs with RFC 6979 nonces: the same digest and key give the same bytes.
        signed = self._account.unsafe_sign_hash(Hash32(digest))
        return canonical_signature(signed.r, signed.s, signed.v)

    def __repr__(self) -> str:
        return f"LocalAttester(address={self.address})"


def address_order(address: str) -> int:
    """The address as the uint160 the contract compares (strictly ascending signer order)."""
    return int(address, 16)


@dataclass(frozen=True)
class AttesterSet:
    """n attesters (configured order) and the number m of signatures a mint request carries."""

    attesters: tuple[Attester, ...]
    threshold: int

    def __post_init__(self) -> None:
        if not self.attesters:
            raise ConfigError("no attester is configured")
        count = len(self.attesters)
        if not 1 <= self.threshold <= count:
            raise ConfigError(
                f"{env_name('attester_threshold')}={self.threshold} needs between 1 and the {count} "
                "attester(s) configured"
            )
        addresses = [a.address for a in self.attesters]
        if len(set(addresses)) != count:
            raise ConfigError("two attesters have the same key (the same address)")

    @property
    def first(self) -> Attester:
        """The attester that signs attestation documents."""
        return self.attesters[0]

    @property
    def addresses(self) -> list[str]:
        """Every attester's address, in ascending order."""
        return sorted((a.address for a in self.attesters), key=address_order)

    def sign(self, digest: bytes) -> list[tuple[str, bytes]]:
        """``(address, signature)`` of the first ``threshold`` attesters, in ascending address order."""
        signing = sorted(self.attesters[: self.threshold], key=lambda a: address_order(a.address))
        return [(a.address, a.sign_digest(digest)) for a in signing]


def _account(text: str, where: str) -> LocalAccount:
    from eth_account import Account  # imported when a key is read (~0.45 s: eth-keyfile, py_ecc)

    value = text.strip().removeprefix("0x")
    try:
        if len(value) != 64:
            raise ValueError("not 32 bytes")
        return Account.from_key(bytes.fromhex(value))
    except (ValueError, TypeError):
        raise ConfigError(f"{where} does not hold a hex secp256k1 private key (64 hex digits)") from None


def create_key_file(path: Path) -> None:
    """Write a fresh key to ``path`` unless a key is already there (no clobbering, no half files)."""
    from eth_account import Account

    key = Account.from_key(secrets.token_bytes(32)).key.hex().removeprefix("0x")
    create_secret_file(path, f"0x{key}\n")


def read_key_file(path: Path, what: str = "signer key file") -> LocalAccount:
    """The key in ``path``; a directory, a missing file or one readable by others is a ``ConfigError``."""
    return _account(read_secret_file(path, what), f"{what} {path}")


def local_attesters(paths: Sequence[str | Path]) -> list[LocalAttester]:
    """One attester per key file (each one 0x-hex private key, mode 0600)."""
    return [LocalAttester(read_key_file(Path(p).expanduser(), "attester key file")) for p in paths]


def signer_key_attester(settings: Settings, *, create: bool = True) -> LocalAttester:
    """The signer key from ``HOKUSAI_SIGNER_KEY``, else from the key file (created if missing)."""
    if settings.signer_key is not None:
        return LocalAttester(_account(settings.signer_key.get_secret_value(), env_name("signer_key")))
    path = Path(str(settings.signer_key_file))
    if not path.exists():
        if settings.environment in DEPLOYED:
            raise ConfigError(
                f"no signer key configured and {settings.environment} never creates one: set "
                f"{env_name('attester_kms_key_ids')} (or {env_name('signer_key')} outside production)"
            )
        if not create:
            raise ConfigError(
                f"no signer key at {path} (and {env_name('signer_key')} is unset); "
                "name the expected signer with --signer 0x…"
            )
        create_key_file(path)
    if path.is_dir():
        raise ConfigError(
            f"signer key file {path} is a directory; set {env_name('signer_key_file')} to a file"
        )
    return LocalAttester(read_key_file(path))


def _production_rules(settings: Settings, kms_ids: list[str], files: list[str]) -> None:
    if settings.environment != "production":
        return
    plaintext = [
        env_name(f) for f, on in (("signer_key", settings.signer_key), ("attester_key_files", files)) if on
    ]
    if plaintext or not kms_ids:
        what = f"unset {' and '.join(plaintext)} and " if plaintext else ""
        raise ConfigError(
            f"production signs with AWS KMS only (file and environment keys are refused): "
            f"{what}set {env_name('attester_kms_key_ids')}"
        )


def load_attesters(settings: Settings, *, create: bool = True, kms_client: Any = None) -> AttesterSet:
    """The configured attester set (KMS keys, key files, or the signer key alone) and its threshold.

    KMS attesters learn their addresses here (two ``kms:Sign`` calls each), so a key that cannot sign
    fails at load time. Load once per process and keep the set.
    """
    kms_ids = settings.attester_kms_key_id_list
    files = settings.attester_key_file_list
    _production_rules(settings, kms_ids, files)
    if kms_ids and files:
        raise ConfigError(
            f"set {env_name('attester_kms_key_ids')} or {env_name('attester_key_files')}, not both"
        )
    attesters: list[Attester]
    if kms_ids:
        from hokusai.attestation.kms import kms_attesters

        attesters = list(kms_attesters(kms_ids, client=kms_client))
    elif files:
        attesters = list(local_attesters(files))
    else:
        attesters = [signer_key_attester(settings, create=create)]
    return AttesterSet(tuple(attesters), settings.attester_threshold)


def published_signers(settings: Settings, attesters: AttesterSet) -> dict[str, Any]:
    """What ``GET /api/v1/attestations/signers`` publishes: who may sign, how many, for which chain."""
    return {
        "signers": attesters.addresses,
        "threshold": attesters.threshold,
        "chain_id": settings.chain_id,
        "verifying_contract": settings.delta_verifier_address,
    }
