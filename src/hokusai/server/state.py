"""What one running API holds: settings, database engine, HTTP client for MLflow, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hokusai.config import Settings
from hokusai.server.middleware import RequestMetrics


@dataclass
class AppState:
    """Shared, process-wide objects; created by ``create_app`` and closed by its lifespan."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    registry: CollectorRegistry
    metrics: RequestMetrics
    http: httpx.AsyncClient | None = field(default=None)
