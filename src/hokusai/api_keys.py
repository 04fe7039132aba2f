"""API key format, generation and checking: ``hk_live_<key_id>_<secret>`` (``hk_test_`` outside production).

The key id is public (12 chars ``[a-z0-9]``) and is how a key is found; the secret is 40 chars of base62
(~238 bits). Only the SHA-256 hex of the FULL key string is stored (Terraform's ``sha256(key)`` computes
the same value), and it is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

from hokusai.errors import Unauthorized

KEY_ID_LENGTH = 12
SECRET_LENGTH = 40
MAX_KEY_LENGTH = 200
_ID_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
KEY_PATTERN = re.compile(r"^hk_(live|test)_([a-z0-9]{8,32})_([A-Za-z0-9]{32,128})$")
KEY_ID_PATTERN = re.compile(r"^[a-z0-9]{8,32}$")
_HASH_PATTERN = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: show ``key`` once, store ``key_hash``."""

    key_id: str
    key: str
    key_hash: str

    @property
    def bootstrap_line(self) -> str:
        """The ``HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH`` value for this key: ``<key_id>:<sha256 hex>``."""
        return f"{self.key_id}:{self.key_hash}"


def hash_key(key: str) -> str:
    """SHA-256 hex of the full key string (what is stored)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))


def generate_key(*, live: bool) -> NewKey:
    """A new random key (``hk_live_`` when ``live``, else ``hk_test_``)."""
    key_id = new_key_id()
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    key = f"hk_{'live' if live else 'test'}_{key_id}_{secret}"
    return NewKey(key_id, key, hash_key(key))


def key_id_of(key: str) -> str:
    """The public key id inside ``key``; a string that is not a Hokusai key is ``key_malformed``."""
    match = KEY_PATTERN.match(key) if len(key) <= MAX_KEY_LENGTH else None
    if match is None:
        raise Unauthorized(
            "the API key is not of the form hk_live_<key id>_<secret> (or hk_test_...)", code="key_malformed"
        )
    return match.group(2)


def hash_matches(key_digest: str, stored_hash: str) -> bool:
    """Constant-time comparison of two SHA-256 hex digests."""
    return hmac.compare_digest(key_digest.encode(), stored_hash.encode())


def parse_bootstrap_line(value: str) -> tuple[str, str]:
    """``<key_id>:<sha256 hex>`` -> (key id, hash); a ``ValueError`` says what is wrong."""
    key_id, sep, digest = value.strip().partition(":")
    if not sep or not KEY_ID_PATTERN.match(key_id) or not _HASH_PATTERN.match(digest):
        raise ValueError(
            "must be '<key id>:<sha256 hex of the full key>' as printed by `hokusai keys generate`"
        )
    return key_id, digest
