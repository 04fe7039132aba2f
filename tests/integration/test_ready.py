"""/ready follows MLflow's real state without restarting the API."""

from __future__ import annotations

import httpx
import pytest

from hokusai.config import Settings
from hokusai.server.app import create_app
from hokusai.server.db import upgrade_database
from tests.support.api import ServedApp
from tests.support.mlflow import MlflowServer

pytestmark = pytest.mark.realparts


def test_ready_turns_503_when_mlflow_stops_and_200_when_it_is_back(settings: Settings) -> None:
    upgrade_database(str(settings.database_url))
    mlflow = MlflowServer(settings).start()
    try:
        with ServedApp(create_app(settings)) as api:
            first = httpx.get(f"{api.url}/ready")
            assert first.status_code == 200
            assert set(first.json()["checks"]) == {"database", "mlflow"}

            mlflow.stop()
            down = httpx.get(f"{api.url}/ready")
            assert down.status_code == 503
            assert down.json()["error"]["code"] == "not_ready"
            assert down.json()["error"]["message"].startswith("not ready: mlflow:")
            assert down.json()["error"]["details"]["checks"]["database"]["ok"] is True

            mlflow.start()
            assert httpx.get(f"{api.url}/ready").status_code == 200
    finally:
        mlflow.stop()


def test_ready_names_the_database_when_postgres_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    with ServedApp(create_app(broken)) as api:
        response = httpx.get(f"{api.url}/ready")
    assert response.status_code == 503
    assert "database:" in response.json()["error"]["message"]
