"""The per-request authentication path of one API process: cache, database, metrics, audit, rate limits.

``Authenticator.authenticate(headers, client_ip)`` is what the ``CurrentPrincipal`` dependency calls, and
what a raw ASGI route (the MLflow proxy) can call too. Order: read the one credential; reuse a cached
verdict or verify against the database (in a worker thread); on failure count the reason, log and audit
it (never the secret) and charge the client IP; on success charge the principal's rate limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from hokusai.config import Settings
from hokusai.errors import HokusaiError, InvalidInput, Unauthorized
from hokusai.server.auth.cache import PrincipalCache
from hokusai.server.auth.credentials import ApiKeyCredential, Credential, WalletCredential, read_credential
from hokusai.server.auth.resolve import verify_credential
from hokusai.server.auth.sessions import SessionCredential, SessionTokens, session_key
from hokusai.server.middleware import RequestMetrics
from hokusai.server.principal import Principal
from hokusai.server.ratelimit import RateLimiter
from hokusai.server.services.audit import record_event

log = logging.getLogger("hokusai.auth")


class Authenticator:
    """Resolves principals for one app; holds the verified-credential cache."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        metrics: RequestMetrics,
        limiter: RateLimiter,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.metrics = metrics
        self.limiter = limiter
        self.cache = PrincipalCache(settings.auth_cache_seconds)
        self.session_tokens = SessionTokens(session_key(settings))  # production: refused without the key

    async def authenticate(self, headers: Mapping[str, str], client_ip: str) -> Principal:
        """The caller, rate-limited; raises 400/401 with a reason code, or 429."""
        return await self._authenticate(lambda: read_credential(headers), client_ip)

    async def authenticate_session(self, token: str, client_ip: str) -> Principal:
        """The caller of a results-pages request by its session cookie (the same path: cache, the key's
        current state, metrics, audit and rate limits)."""
        return await self._authenticate(lambda: self.session_tokens.read(token), client_ip)

    async def _authenticate(
        self, read: Callable[[], Credential | SessionCredential], client_ip: str
    ) -> Principal:
        credential: Credential | SessionCredential | None = None
        try:
            credential = read()
            principal = self.cache.get(credential.cache_key, credential.digest)
            if principal is None:
                principal = await anyio.to_thread.run_sync(self._verify, credential)
        except (Unauthorized, InvalidInput) as exc:
            await self.reject(exc, credential, client_ip)
            raise
        await self.limiter.hit_principal(principal)
        return principal

    def _verify(self, credential: Credential | SessionCredential) -> Principal:
        with self.sessions() as session:
            verified = verify_credential(session, credential, self.settings)
            session.commit()  # a first wallet sign-in binds its nonce and may create the wallet's principal
        until = verified.valid_until.timestamp() if verified.valid_until else None
        self.cache.put(credential.cache_key, credential.digest, verified.principal, until=until,
                       tag=verified.revoked_by)  # fmt: skip
        return verified.principal

    def forget(self, tag: str) -> None:
        """A key id was revoked/rotated or a nonce burned: stop trusting cached verdicts for it now."""
        self.cache.forget(tag)

    async def reject(
        self, exc: HokusaiError, credential: Credential | SessionCredential | None, client_ip: str
    ) -> None:
        """Count, log and audit a refused credential; past the per-IP limit, answer 429 instead."""
        key_id = credential.key_id if isinstance(credential, ApiKeyCredential | SessionCredential) else None
        address = credential.address if isinstance(credential, WalletCredential) else None
        self.metrics.auth_failures.labels(exc.code).inc()
        context = {"reason": exc.code, "key_id": key_id, "wallet_address": address, "client_ip": client_ip}
        log.warning("authentication failed", extra=context)
        await self.limiter.hit_client(client_ip, "auth_failure")
        await anyio.to_thread.run_sync(self._audit_failure, exc.code, key_id, address, client_ip)

    def _audit_failure(self, reason: str, key_id: str | None, address: str | None, client_ip: str) -> None:
        try:
            with self.sessions() as session:
                record_event(session, "auth_failed", reason=reason, key_id=key_id, wallet_address=address,
                             client_ip=client_ip)  # fmt: skip
                session.commit()
        except Exception:  # the refusal stands even if the audit row cannot be written
            log.exception("could not write the audit event for a failed authentication")
