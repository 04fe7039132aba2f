"""SHA-256 Merkle tree hash of RFC 6962 (Certificate Transparency), section 2.1.

Leaves and inner nodes are domain-separated (0x00 / 0x01 prefixes), so a leaf can never pass for
an inner node; an unbalanced tree splits at the largest power of two below the leaf count.
Every leaf here is itself a SHA-256 digest (32 bytes), written as 64 hex digits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _tree_hash(leaves: Sequence[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    split = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two < n
    return node_hash(_tree_hash(leaves[:split]), _tree_hash(leaves[split:]))


def merkle_root(hex_leaves: Sequence[str]) -> str:
    """Hex Merkle tree hash of the leaves (hex digests, in order); SHA-256 of nothing when empty."""
    if not hex_leaves:
        return hashlib.sha256(b"").hexdigest()
    return _tree_hash([bytes.fromhex(h) for h in hex_leaves]).hex()
