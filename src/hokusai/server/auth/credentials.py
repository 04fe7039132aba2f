"""Read the one credential a request carries from its headers, before any database work.

``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` for API keys; ``X-ETH-Address``, ``X-ETH-Signature``
and ``X-ETH-Message`` (base64 of the EIP-4361 text) for wallets. Exactly one credential is allowed; oversized
headers are refused before they are decoded. Nothing here keeps or logs a secret: an API key is reduced to
its public id and its SHA-256 digest at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from hokusai.api_keys import hash_key, key_id_of
from hokusai.errors import InvalidInput, Unauthorized
from hokusai.wallet import checksum_address

MAX_KEY_HEADER = 512
MAX_MESSAGE_HEADER = 8192
MAX_SHORT_HEADER = 256
WALLET_HEADERS = ("x-eth-address", "x-eth-signature", "x-eth-message")
_LIMITS = {
    "authorization": MAX_KEY_HEADER,
    "x-api-key": MAX_KEY_HEADER,
    "x-eth-address": MAX_SHORT_HEADER,
    "x-eth-signature": MAX_SHORT_HEADER,
    "x-eth-message": MAX_MESSAGE_HEADER,
}


@dataclass(frozen=True, slots=True)
class ApiKeyCredential:
    """An API key reduced to its public id and the SHA-256 of the full key."""

    key_id: str
    digest: str

    @property
    def cache_key(self) -> str:
        return f"key:{self.key_id}"


@dataclass(frozen=True, slots=True)
class WalletCredential:
    """The three wallet headers as sent; ``digest`` identifies the exact triple.

    They are decoded and checked (``decode_wallet``) only when the triple is not already verified: a
    cached verdict is keyed by the digest of these very bytes.
    """

    address: str
    signature: str
    encoded_message: str
    digest: str

    @property
    def cache_key(self) -> str:
        return f"wallet:{self.digest}"


Credential = ApiKeyCredential | WalletCredential


def _credential_headers(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """The credential headers present, each with all its values; one pass over a Starlette ``Headers``."""
    found: dict[str, list[str]] = {}
    raw = getattr(headers, "raw", None)
    if raw is not None:
        for name, value in raw:
            key = name.decode("latin-1").lower()
            if key in _LIMITS:
                found.setdefault(key, []).append(value.decode("latin-1"))
        return found
    for name, value in headers.items():
        if name.lower() in _LIMITS:
            found.setdefault(name.lower(), []).append(value)
    return found


def _api_key(value: str) -> ApiKeyCredential:
    return ApiKeyCredential(key_id_of(value), hash_key(value))


def _bearer(value: str) -> str:
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized(
            f"Authorization scheme {scheme[:20]!r} is not supported; use 'Bearer <API key>'",
            code="auth_scheme_unsupported",
        )
    token = token.strip()
    if not token:
        raise Unauthorized("'Authorization: Bearer' carries no token", code="token_missing")
    return token


def _address(value: str, *, where: str) -> str:
    try:
        return checksum_address(value.strip())
    except InvalidInput as exc:
        raise Unauthorized(f"{where}: {exc.message}", code=exc.code) from None


def _wallet(address: str, signature: str, encoded: str) -> WalletCredential:
    address, signature, encoded = address.strip(), signature.strip(), encoded.strip()
    digest = hashlib.sha256(f"{address}\n{signature}\n{encoded}".encode()).hexdigest()
    return WalletCredential(address, signature, encoded, digest)


def decode_wallet(credential: WalletCredential) -> tuple[str, str]:
    """(EIP-55 address, message text) of the wallet headers; ``Unauthorized`` with the reason otherwise."""
    address = _address(credential.address, where="X-ETH-Address")
    try:
        message = base64.b64decode(credential.encoded_message, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise Unauthorized(
            "X-ETH-Message must be the base64 of the UTF-8 sign-in message", code="message_malformed"
        ) from None
    return address, message


def read_credential(headers: Mapping[str, str]) -> Credential:
    """The request's single credential; ``Unauthorized`` / ``InvalidInput`` with a reason code otherwise."""
    present: dict[str, str] = {}
    for name, values in _credential_headers(headers).items():
        if len(values) > 1:
            raise InvalidInput(f"the {name} header is sent more than once", code="credentials_ambiguous")
        if len(values[0]) > _LIMITS[name]:
            raise InvalidInput(
                f"the {name} header is {len(values[0])} bytes; at most {_LIMITS[name]} are accepted",
                code="header_too_large",
            )
        present[name] = values[0]
    wallet = [name for name in WALLET_HEADERS if name in present]
    kinds = int("authorization" in present) + int("x-api-key" in present) + int(bool(wallet))
    if kinds > 1:
        raise InvalidInput(
            "send exactly one credential: Authorization, X-API-Key or the X-ETH-* headers",
            code="credentials_ambiguous",
        )
    if "authorization" in present:
        return _api_key(_bearer(present["authorization"]))
    if "x-api-key" in present:
        key = present["x-api-key"].strip()
        if not key:
            raise Unauthorized("X-API-Key is empty", code="token_missing")
        return _api_key(key)
    if wallet:
        if len(wallet) < len(WALLET_HEADERS):
            missing = ", ".join(h for h in WALLET_HEADERS if h not in present)
            raise Unauthorized(f"wallet sign-in needs all three X-ETH-* headers; missing: {missing}",
                               code="wallet_headers_incomplete")  # fmt: skip
        return _wallet(present["x-eth-address"], present["x-eth-signature"], present["x-eth-message"])
    raise Unauthorized(
        "authentication required: send 'Authorization: Bearer <API key>' or the X-ETH-* wallet headers",
        code="credentials_missing",
    )
