"""What one running API holds: settings, database engine, HTTP client for MLflow, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hokusai.config import Settings
from hokusai.server.middleware import RequestMetrics

if TYPE_CHECKING:
    from hokusai.attestation.attesters import AttesterSet
    from hokusai.attestation.signing import Signer
    from hokusai.server.auth.authenticator import Authenticator
    from hokusai.server.jobs import JobRunner
    from hokusai.server.mlflow_access import MlflowAccess
    from hokusai.server.ratelimit import RateLimiter
    from hokusai.server.services.audit import AuditBuffer
    from hokusai.server.services.webhooks import Dispatcher
    from hokusai.storage import BlobStore


@dataclass
class AppState:
    """Shared, process-wide objects; created by ``create_app`` and closed by its lifespan."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    registry: CollectorRegistry
    metrics: RequestMetrics
    limiter: RateLimiter
    auth: Authenticator
    store: BlobStore
    mlflow_access: MlflowAccess
    audit: AuditBuffer
    http: aiohttp.ClientSession | None = field(default=None)  # to MLflow: readiness and the proxy
    runner: JobRunner | None = field(default=None)
    attesters: AttesterSet | None = field(default=None)  # loaded once, at start (KMS keys are looked up)
    webhooks: Dispatcher | None = field(default=None)  # sends webhook deliveries; holds the secrets' cipher

    def signer(self) -> Signer:
        """The attestation signer: the first attester, under the settings' EIP-712 domain."""
        from hokusai.attestation.signing import Signer, settings_domain

        if self.attesters is None:
            from hokusai.attestation import load_attesters

            self.attesters = load_attesters(self.settings)
        return Signer(self.attesters.first, settings_domain(self.settings))
