"""Who is calling: the ``Principal`` every authenticated request carries, and the scopes it can hold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from hokusai.schemas import ADMIN, READ, SCOPES, WRITE
from hokusai.schemas import parse_scopes as parse_scopes  # the scope vocabulary is the API's

WALLET_SCOPES = frozenset({READ, WRITE})  # any valid wallet: read + write on its own contributions

AuthMethod = Literal["api_key", "wallet"]


def format_scopes(scopes: Iterable[str]) -> str:
    """The stored form of a scope set: space-separated, in the canonical order."""
    chosen = set(scopes)
    return " ".join(scope for scope in SCOPES if scope in chosen)


def covers(granted: frozenset[str], wanted: Iterable[str]) -> bool:
    """True when ``granted`` allows every scope in ``wanted`` (``admin`` allows everything)."""
    return ADMIN in granted or set(wanted) <= granted


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request.

    ``id`` is the principal's database id; ``role`` is ``contributor``, ``owner`` or ``admin`` (see
    ``hokusai.server.policy``); ``key_id`` is set for API keys, ``wallet_address`` (EIP-55) for wallets and
    for keys owned by a wallet principal. ``rate_limit_per_minute`` is a per-key override; ``nonce`` names a
    wallet sign-in (what logout burns); ``expires_at`` is the credential's own expiry (a child key never
    outlives it).
    """

    id: str
    method: AuthMethod
    scopes: frozenset[str]
    role: str = "contributor"
    wallet_address: str | None = None
    key_id: str | None = None
    name: str | None = None
    rate_limit_per_minute: int | None = None
    nonce: str | None = None
    expires_at: datetime | None = None
    key_status: str = "active"  # of the key itself: active | rotating

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    def has_scope(self, scope: str) -> bool:
        """True when the principal may act with ``scope`` (``admin`` implies every scope)."""
        return covers(self.scopes, (scope,))

    @property
    def rate_limit_key(self) -> str:
        """The bucket this principal's requests count against: per key, or per wallet."""
        return f"key:{self.key_id}" if self.key_id else f"wallet:{self.wallet_address}"
