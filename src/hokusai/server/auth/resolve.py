"""Verify a credential against the database and say who is calling.

``verify_credential(session, credential, settings)`` checks one credential (read from the headers by
``credentials.read_credential``) and reports who calls, until when the verdict holds and what revokes it,
which the per-process cache in ``authenticator`` uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from hokusai.api_keys import hash_matches
from hokusai.config import Settings
from hokusai.errors import InvalidInput, Unauthorized
from hokusai.server.auth.credentials import (
    ApiKeyCredential,
    Credential,
    WalletCredential,
    decode_wallet,
)
from hokusai.server.auth.sessions import SessionCredential
from hokusai.server.db.models import ApiKey, utcnow
from hokusai.server.db.models import Principal as PrincipalRow
from hokusai.server.principal import Principal, parse_scopes
from hokusai.server.services.audit import record_event
from hokusai.server.services.nonces import use_nonce
from hokusai.server.services.principals import principal_roles, role_of, wallet_principal, wallet_roles
from hokusai.siwe import SiweMessage, parse_siwe, recover_signer
from hokusai.wallet import checksum_address

MAX_MESSAGE_LIFETIME = timedelta(hours=1)
CLOCK_SKEW = timedelta(seconds=60)  # a wallet's clock may run a little ahead of ours


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified credential: who, until when at most, and the key id or nonce that revokes it."""

    principal: Principal
    valid_until: datetime | None
    revoked_by: str


def verify_api_key(session: Session, credential: ApiKeyCredential, settings: Settings) -> Verified:
    """Find the key by id, compare the hash in constant time, then check revocation and expiry."""
    row = session.get(ApiKey, credential.key_id)
    if row is None:
        raise Unauthorized(f"no API key with id {credential.key_id}", code="key_unknown")
    if not hash_matches(credential.digest, row.key_hash):
        raise Unauthorized(f"API key {row.id} does not match its stored hash", code="key_invalid")
    return _key_state(session, row, settings)


def verify_session(session: Session, credential: SessionCredential, settings: Settings) -> Verified:
    """A results-pages session (its signature already checked): its key's current state, as for the key
    itself, so revoking or expiring the key ends its sessions; valid until the session's own expiry."""
    row = session.get(ApiKey, credential.key_id)
    if row is None or row.principal_id != credential.principal_id:
        raise Unauthorized("the session's API key no longer exists; sign in again", code="session_invalid")
    verified = _key_state(session, row, settings)
    until = datetime.fromtimestamp(credential.expires_at, UTC)
    if verified.valid_until is not None:
        until = min(until, verified.valid_until)
    return Verified(verified.principal, until, row.id)


def _key_state(session: Session, row: ApiKey, settings: Settings) -> Verified:
    """Revocation and expiry of a found key, then the principal it acts for."""
    if row.revoked_at is not None:
        raise Unauthorized(f"API key {row.id} was revoked", code="key_revoked")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise Unauthorized(f"API key {row.id} expired at {row.expires_at.isoformat()}", code="key_expired")
    owner = session.get(PrincipalRow, row.principal_id)
    if owner is None:  # the foreign key makes this unreachable; refuse rather than guess
        raise Unauthorized(f"API key {row.id} has no principal", code="key_unknown")
    scopes = parse_scopes(row.scopes) & principal_roles(session, owner, settings)
    principal = Principal(
        id=owner.id, method="api_key", scopes=scopes, role=role_of(session, owner, settings),
        wallet_address=owner.wallet_address, key_id=row.id, name=owner.name,
        rate_limit_per_minute=row.rate_limit_per_minute, expires_at=row.expires_at,
        key_status="rotating" if row.replaced_by else "active",
    )  # fmt: skip
    return Verified(principal, row.expires_at, row.id)


def check_message(message: SiweMessage, address: str, settings: Settings) -> datetime:
    """Domain, URI, chain, address and time window of a parsed message; returns its expiration time."""
    domain = str(settings.public_domain).lower()
    if message.domain.lower() != domain:
        raise Unauthorized(
            f"the sign-in message is for {message.domain!r}, not {settings.public_domain!r}",
            code="domain_mismatch",
        )
    uri = urlsplit(message.uri)
    schemes = ("https",) if settings.environment == "production" else ("https", "http")
    if uri.scheme not in schemes or uri.netloc.lower() != domain:
        raise Unauthorized(
            f"the sign-in message's URI {message.uri!r} is not on this platform's origin "
            f"({schemes[0]}://{settings.public_domain})",
            code="uri_mismatch",
        )
    if message.chain_id not in settings.chain_id_set:
        raise Unauthorized(
            f"the sign-in message is for chain {message.chain_id}; this platform accepts chain id(s) "
            f"{', '.join(map(str, sorted(settings.chain_id_set)))}",
            code="chain_mismatch",
        )
    try:
        signed_for = checksum_address(message.address, require_checksum=True)
    except InvalidInput as exc:
        raise Unauthorized(f"the sign-in message's address: {exc.message}", code=exc.code) from None
    if signed_for != address:
        raise Unauthorized("X-ETH-Address is not the address in the sign-in message", code="address_mismatch")
    expires = message.expiration_time
    if expires is None:
        raise Unauthorized("the sign-in message needs an Expiration Time", code="expiration_missing")
    now = utcnow()
    if expires <= now:
        raise Unauthorized(f"the sign-in message expired at {expires.isoformat()}", code="message_expired")
    if message.issued_at > now + CLOCK_SKEW or (message.not_before and message.not_before > now):
        raise Unauthorized("the sign-in message is not valid yet", code="message_not_yet_valid")
    if expires - message.issued_at > MAX_MESSAGE_LIFETIME or expires <= message.issued_at:
        raise Unauthorized(
            "a sign-in message may be valid for at most 1 hour after its Issued At",
            code="message_lifetime_too_long",
        )
    return expires


def verify_wallet(session: Session, credential: WalletCredential, settings: Settings) -> Verified:
    """Parse and check the EIP-4361 message, recover the signer, then accept the nonce."""
    address, text = decode_wallet(credential)
    message = parse_siwe(text)
    expires = check_message(message, address, settings)
    if recover_signer(text, credential.signature) != address:
        raise Unauthorized("the signature was not made by X-ETH-Address", code="signature_mismatch")
    message_hash = hashlib.sha256(text.encode()).hexdigest()
    first_use = use_nonce(session, message.nonce, address=address, message_hash=message_hash,
                          message_expires_at=expires)  # fmt: skip
    owner = wallet_principal(session, address)
    if first_use:
        record_event(session, "wallet_signed_in", principal_id=owner.id, wallet_address=address,
                     details={"nonce_expires": expires.isoformat()})  # fmt: skip
    principal = Principal(
        id=owner.id, method="wallet", scopes=wallet_roles(session, address, settings),
        role=role_of(session, owner, settings), wallet_address=address, name=owner.name, nonce=message.nonce,
        expires_at=expires,
    )  # fmt: skip
    return Verified(principal, expires, message.nonce)


def verify_credential(
    session: Session, credential: Credential | SessionCredential, settings: Settings
) -> Verified:
    """Dispatch on the credential kind."""
    if isinstance(credential, ApiKeyCredential):
        return verify_api_key(session, credential, settings)
    if isinstance(credential, SessionCredential):
        return verify_session(session, credential, settings)
    return verify_wallet(session, credential, settings)
