"""The platform's hash definitions, in one place.

``file_sha256`` is *the* data hash: SHA-256 of a file's exact bytes, reproducible with ``sha256sum``.
``canonical_json`` is RFC 8785 (JCS), so any verifier in any language gets the same bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import rfc8785

CHUNK = 1 << 20


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the file's exact bytes (equal to ``sha256sum PATH``)."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
    return digest.hexdigest()


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``value`` (sorted keys, no whitespace, ECMAScript numbers)."""
    return rfc8785.dumps(value)


def canonical_hash(value: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
