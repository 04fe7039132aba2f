"""The hash tree is RFC 6962's Merkle tree hash: domain-separated, split at the largest power of two."""

from __future__ import annotations

import hashlib

from hokusai.attestation.merkle import merkle_root

A, B, C = ("aa" * 32), ("bb" * 32), ("cc" * 32)


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_one_leaf_is_hashed_with_the_leaf_prefix() -> None:
    assert merkle_root([A]) == _h(b"\x00" + bytes.fromhex(A)).hex()


def test_three_leaves_split_two_and_one() -> None:
    leaf = {x: _h(b"\x00" + bytes.fromhex(x)) for x in (A, B, C)}
    expected = _h(b"\x01" + _h(b"\x01" + leaf[A] + leaf[B]) + leaf[C])
    assert merkle_root([A, B, C]) == expected.hex()


def test_leaf_order_changes_the_root() -> None:
    assert merkle_root([A, B]) != merkle_root([B, A])


def test_an_empty_tree_is_the_hash_of_nothing() -> None:
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()
