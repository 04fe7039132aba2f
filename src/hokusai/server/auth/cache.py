"""A small per-process cache of verified credentials, so a repeated request skips the database.

Entries are keyed by the credential's public part (a key id, or the digest of the wallet headers) and
hold the SHA-256 digest of the secret part, compared in constant time on every hit; they never hold a
secret. An entry lives ``ttl`` seconds at most, never past the credential's own expiry, and is dropped
at once when the API revokes, rotates or logs out what it names (``forget``).
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass

from hokusai.server.principal import Principal

MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    principal: Principal
    until: float
    tag: str


class PrincipalCache:
    """``get(key, digest)`` -> Principal or None; ``put(...)``; ``forget(tag)``."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, key: str, digest: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.until <= time.time() or not hmac.compare_digest(entry.digest, digest.encode()):
            return None
        return entry.principal

    def put(self, key: str, digest: str, principal: Principal, *, until: float | None, tag: str) -> None:
        """Remember a verified credential for ``ttl`` seconds, or until ``until`` (epoch) if sooner."""
        if self.ttl <= 0:
            return
        deadline = time.time() + self.ttl
        if until is not None:
            deadline = min(deadline, until)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = _Entry(digest.encode(), principal, deadline, tag)

    def forget(self, tag: str) -> None:
        """Drop every entry revoked by ``tag`` (a key id or a nonce)."""
        with self._lock:
            for key in [k for k, e in self._entries.items() if e.tag == tag]:
                del self._entries[key]
