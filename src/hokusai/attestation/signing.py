"""The platform signer: an Ethereum key that signs attestations as EIP-712 typed data.

The key comes from ``HOKUSAI_SIGNER_KEY`` (Secrets Manager in AWS) or, when that is unset, from
``HOKUSAI_SIGNER_KEY_FILE`` (default ``<data dir>/keys/signer.key``), which is created on first use
with mode 0600 and linked into place atomically (two processes racing end up with the same key).
The key is never logged or shown; the signer's public identity is its EIP-55 address.

Signed message (EIP-712)::

    domain    {name: "Hokusai Attestation", version: "1"}
    Attestation(string runId, bytes32 hashTreeRoot, bytes32 publicInputsHash)

ECDSA signatures from eth-account use RFC 6979 nonces, so the same message gives the same signature.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from hokusai.config import Settings, env_name
from hokusai.errors import ConfigError, InvalidInput

DOMAIN: dict[str, str] = {"name": "Hokusai Attestation", "version": "1"}
TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}],
    "Attestation": [
        {"name": "runId", "type": "string"},
        {"name": "hashTreeRoot", "type": "bytes32"},
        {"name": "publicInputsHash", "type": "bytes32"},
    ],
}


def typed_data(run_id: str, hash_tree_root: str, public_inputs_hash: str) -> dict[str, Any]:
    """The full EIP-712 message (``eth_signTypedData_v4`` JSON) for one attestation."""
    return {
        "types": TYPES,
        "primaryType": "Attestation",
        "domain": DOMAIN,
        "message": {
            "runId": run_id,
            "hashTreeRoot": "0x" + hash_tree_root,
            "publicInputsHash": "0x" + public_inputs_hash,
        },
    }


class Signer:
    """Signs attestations; exposes only its address."""

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @property
    def address(self) -> str:
        """EIP-55 address of the signer (the attestation's ``verification_key``)."""
        return self._account.address

    def sign(self, run_id: str, hash_tree_root: str, public_inputs_hash: str) -> str:
        """0x-hex 65-byte signature (r || s || v) of the EIP-712 attestation message."""
        message = encode_typed_data(full_message=typed_data(run_id, hash_tree_root, public_inputs_hash))
        return "0x" + self._account.sign_message(message).signature.hex().removeprefix("0x")

    def __repr__(self) -> str:
        return f"Signer(address={self.address})"


def recover_signer(run_id: str, hash_tree_root: str, public_inputs_hash: str, signature: str) -> str:
    """The address that produced ``signature`` over this attestation message."""
    message = encode_typed_data(full_message=typed_data(run_id, hash_tree_root, public_inputs_hash))
    try:
        return Account.recover_message(message, signature=signature)
    except Exception as exc:  # malformed bytes, bad v, point not on the curve
        raise InvalidInput(f"signature cannot be decoded: {exc}", code="bad_signature") from None


def _account(text: str, where: str) -> LocalAccount:
    value = text.strip().removeprefix("0x")
    try:
        if len(value) != 64:
            raise ValueError("not 32 bytes")
        return Account.from_key(bytes.fromhex(value))
    except (ValueError, TypeError):
        raise ConfigError(f"{where} does not hold a hex secp256k1 private key (64 hex digits)") from None


def _create_key_file(path: Path) -> None:
    """Write a fresh key to ``path`` unless a key is already there (no clobbering, no half files)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".signer.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("0x" + Account.from_key(secrets.token_bytes(32)).key.hex().removeprefix("0x") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _read_key_file(path: Path) -> LocalAccount:
    where = f"signer key file {path}"
    if path.is_dir():
        raise ConfigError(f"{where} is a directory; set {env_name('signer_key_file')} to a file path")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{where} is readable by group or others (mode {mode:04o}); run: chmod 600 {path}")
    return _account(path.read_text(), where)


def load_signer(settings: Settings, *, create: bool = True) -> Signer:
    """The platform signer from ``HOKUSAI_SIGNER_KEY``, else from the key file (created if missing)."""
    if settings.signer_key is not None:
        return Signer(_account(settings.signer_key.get_secret_value(), env_name("signer_key")))
    path = Path(str(settings.signer_key_file))
    if not path.exists():
        if not create:
            raise ConfigError(
                f"no signer key at {path} (and {env_name('signer_key')} is unset); "
                "name the expected signer with --signer 0x…"
            )
        _create_key_file(path)
    return Signer(_read_key_file(path))
