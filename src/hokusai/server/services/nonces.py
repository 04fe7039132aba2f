"""EIP-4361 nonces: issued by us, bound to one signed message on first use, burned by logout.

An unused nonce dies 10 minutes after issue; a used one lives as long as its message. Stale rows are
purged at most once a minute per process, when nonces are issued.
"""

from __future__ import annotations

import hmac
import secrets
import string
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from hokusai.errors import NotFound, Unauthorized
from hokusai.server.db.engine import changed_rows, forget_on_commit
from hokusai.server.db.models import SigninNonce, utcnow

NONCE_TTL = timedelta(minutes=10)
NONCE_LENGTH = 24
_ALPHABET = string.ascii_letters + string.digits
_PURGE_EVERY_SECONDS = 60.0
_last_purge = 0.0


def _purge(session: Session, now: datetime) -> None:
    global _last_purge
    if time.monotonic() - _last_purge < _PURGE_EVERY_SECONDS:
        return
    _last_purge = time.monotonic()
    session.execute(
        delete(SigninNonce).where(
            or_(
                (SigninNonce.used_at.is_(None)) & (SigninNonce.expires_at < now),
                SigninNonce.message_expires_at < now,
            )
        )
    )


def issue_nonce(session: Session) -> SigninNonce:
    """A new random nonce (24 base62 chars, ~143 bits), stored (the caller commits before handing it out)."""
    now = utcnow()
    _purge(session, now)
    row = SigninNonce(
        nonce="".join(secrets.choice(_ALPHABET) for _ in range(NONCE_LENGTH)),
        issued_at=now,
        expires_at=now + NONCE_TTL,
    )
    session.add(row)
    return row


def use_nonce(
    session: Session, nonce: str, *, address: str, message_hash: str, message_expires_at: datetime
) -> bool:
    """Accept ``nonce`` for this signed message; True when this call bound it (first sign-in).

    Raises ``Unauthorized`` with ``nonce_unknown``, ``nonce_revoked``, ``nonce_expired`` (unused past its
    10 minutes) or ``nonce_reused`` (bound to another message).
    """
    now = utcnow()
    row = session.get(SigninNonce, nonce)
    if row is None:
        raise Unauthorized("the sign-in nonce was not issued by this server (or is long gone)",
                           code="nonce_unknown")  # fmt: skip
    if row.revoked_at is not None:
        raise Unauthorized("the sign-in nonce was burned by logout; sign in again", code="nonce_revoked")
    if row.used_at is not None:
        if not hmac.compare_digest((row.message_hash or "").encode(), message_hash.encode()):
            raise Unauthorized("the sign-in nonce belongs to another message", code="nonce_reused")
        return False
    if row.expires_at <= now:
        raise Unauthorized(
            "the sign-in nonce expired before it was used; get a new one", code="nonce_expired"
        )
    bound = session.execute(
        update(SigninNonce)
        .where(SigninNonce.nonce == nonce, SigninNonce.used_at.is_(None))
        .values(
            used_at=now, address=address, message_hash=message_hash, message_expires_at=message_expires_at
        )
    )
    if changed_rows(bound) != 1:  # a concurrent request bound it first: check against that binding
        session.expire_all()
        return use_nonce(session, nonce, address=address, message_hash=message_hash,
                         message_expires_at=message_expires_at)  # fmt: skip
    return True


def burn_nonce(session: Session, nonce: str) -> None:
    """Logout: the nonce (and so its message) never authenticates again."""
    row = session.get(SigninNonce, nonce)
    if row is None:
        raise NotFound("no such sign-in nonce", code="nonce_unknown")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    forget_on_commit(session, "credential", nonce)


def burn_wallet_nonces(session: Session, address: str) -> list[str]:
    """Burn every live sign-in of ``address`` (logout everywhere); returns the nonces burned."""
    now = utcnow()
    rows = session.scalars(
        select(SigninNonce).where(
            SigninNonce.address == address,
            SigninNonce.revoked_at.is_(None),
            SigninNonce.message_expires_at > now,
        )
    ).all()
    for row in rows:
        row.revoked_at = now
    forget_on_commit(session, "credential", *(row.nonce for row in rows))
    return [row.nonce for row in rows]
