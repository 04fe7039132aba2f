"""Hash definitions, atomic writes and address checks that the whole platform shares."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from hokusai.errors import InvalidInput
from hokusai.files import atomic_write_bytes, atomic_write_json
from hokusai.hashing import canonical_hash, canonical_json, file_sha256
from hokusai.wallet import checksum_address

ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 test vector


def test_file_sha256_equals_sha256sum(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(os.urandom(3 * (1 << 20) + 17))
    expected = subprocess.run(
        ["sha256sum", str(path)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert file_sha256(path) == expected


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [1.0, "x"]}) == b'{"a":[1,"x"],"b":1}'
    assert canonical_hash({"a": 1}) == hashlib.sha256(b'{"a":1}').hexdigest()


def test_atomic_write_leaves_no_temp_file_and_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "out" / "doc.json"
    atomic_write_json(target, {"v": 1})
    atomic_write_bytes(target, b"two", mode=0o600)
    assert target.read_bytes() == b"two"
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in target.parent.iterdir()] == ["doc.json"]


def test_lowercase_address_is_checksummed() -> None:
    assert checksum_address(ADDRESS.lower()) == ADDRESS


def test_address_with_a_wrong_checksum_is_rejected() -> None:
    wrong = ADDRESS[:2] + ADDRESS[2].lower() + ADDRESS[3:].replace("A", "a", 1)
    with pytest.raises(InvalidInput, match="wrong EIP-55 checksum"):
        checksum_address(wrong)


@pytest.mark.parametrize("value", ["0x123", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x" + "g" * 40])
def test_malformed_address_is_rejected(value: str) -> None:
    with pytest.raises(InvalidInput, match="not an Ethereum address"):
        checksum_address(value)


def test_unchecksummed_address_is_rejected_when_a_checksum_is_required() -> None:
    with pytest.raises(InvalidInput):
        checksum_address(ADDRESS.lower(), require_checksum=True)
