"""``create_app(settings)``: the platform API as an ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from hokusai import __version__
from hokusai.config import Settings, load_settings
from hokusai.server.db import create_db_engine, session_factory
from hokusai.server.errors import install_error_handlers
from hokusai.server.middleware import RequestContextMiddleware, RequestMetrics
from hokusai.server.routes import health
from hokusai.server.state import AppState


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for ``settings`` (default: from the environment). Does not touch the network."""
    settings = settings or load_settings()
    engine = create_db_engine(str(settings.database_url), connect_timeout=settings.ready_timeout_seconds)
    registry = CollectorRegistry()
    metrics = RequestMetrics(registry)
    state = AppState(settings, engine, session_factory(engine), registry, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
            state.http = client
            yield
        state.http = None
        engine.dispose()

    app = FastAPI(
        title="Hokusai platform API",
        version=__version__,
        description="Evaluate contributed data against a baseline model and attest the improvement.",
        lifespan=lifespan,
    )
    app.state.hokusai = state
    install_error_handlers(app)
    app.include_router(health.router)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory hokusai.server.app:app_from_env``."""
    return create_app(load_settings())
