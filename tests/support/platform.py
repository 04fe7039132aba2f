"""A whole platform for tests: migrated database, bootstrap admin key, real uvicorn serving the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from hokusai.config import Settings
from hokusai.server.app import create_app
from hokusai.server.db import upgrade_database
from hokusai.stack import first_start_notice
from tests.support.api import ServedApp


@dataclass
class Platform:
    """A served API: its URL, the settings it runs with, and the admin key printed at first start."""

    url: str
    settings: Settings
    admin_key: str
    app: FastAPI

    def client(self, **options: Any) -> Any:
        """An SDK client for this platform (admin unless ``api_key``/``wallet`` says otherwise)."""
        from hokusai.client import Client

        if "wallet" not in options:
            options.setdefault("api_key", self.admin_key)
        return Client(url=self.url, **options)


@contextmanager
def serve_platform(settings: Settings, app_hook: Any = None) -> Iterator[Platform]:
    """Migrate, bootstrap the admin key the way ``hokusai up`` does, and serve the API until exit."""
    upgrade_database(str(settings.database_url))
    app = create_app(settings)
    admin_key = first_start_notice(app).get("admin_key", "")
    if app_hook is not None:
        app_hook(app)
    with ServedApp(app, port=settings.api_port) as served:  # the port the settings (and workers) know
        yield Platform(served.url, settings.model_copy(update={"api_port": served.port}), admin_key, app)
