"""The API skeleton: health, readiness naming the failing part, metrics, one error shape everywhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from hokusai.config import Settings
from hokusai.errors import Conflict
from hokusai.server import policy
from hokusai.server.app import create_app
from hokusai.server.db import upgrade_database


class Echo(BaseModel):
    count: int


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    upgrade_database(
        str(settings.database_url)
    )  # as `hokusai up` does: the app publishes its signers at start
    app = create_app(settings)
    for method, path in (("GET", "/test/boom"), ("GET", "/test/conflict"), ("POST", "/test/echo")):
        monkeypatch.setitem(policy.ENDPOINTS, (method, path), "health.read")  # test routes need rows too

    @app.get("/test/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/test/conflict")
    async def conflict() -> None:
        raise Conflict("already there", details={"id": 7})

    @app.post("/test/echo")
    async def echo(body: Echo) -> Echo:
        return body

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def assert_error_shape(body: dict, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_health_is_cheap_and_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_unknown_path_gives_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert_error_shape(response.json(), "not_found")


def test_wrong_method_gives_405_in_the_error_shape(client: TestClient) -> None:
    response = client.delete("/health")
    assert response.status_code == 405
    assert_error_shape(response.json(), "method_not_allowed")


def test_invalid_body_gives_422_with_the_field_named(client: TestClient) -> None:
    response = client.post("/test/echo", json={"count": "many"})
    assert response.status_code == 422
    body = response.json()
    assert_error_shape(body, "validation_error")
    assert body["error"]["details"][0]["location"] == "body.count"


def test_unexpected_error_gives_500_without_internals(client: TestClient) -> None:
    response = client.get("/test/boom")
    assert response.status_code == 500
    assert_error_shape(response.json(), "internal_error")
    assert "secret internals" not in response.text


def test_platform_error_maps_to_its_status_and_code(client: TestClient) -> None:
    response = client.get("/test/conflict")
    assert response.status_code == 409
    assert response.json()["error"] == {"code": "conflict", "message": "already there", "details": {"id": 7}}


def test_ready_is_503_naming_mlflow_when_nothing_listens(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert_error_shape(body, "not_ready")
    assert "mlflow" in body["error"]["message"]
    checks = body["error"]["details"]["checks"]
    assert checks["database"]["ok"] is True
    assert checks["mlflow"]["ok"] is False


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/health", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 32


def test_metrics_count_requests_by_route_template_and_status(client: TestClient) -> None:
    client.get("/health")
    client.get("/health")
    client.get("/nope")
    text = client.get("/metrics").text
    assert 'hokusai_http_requests_total{method="GET",route="/health",status="200"} 2.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "hokusai_http_request_duration_seconds_bucket" in text


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["info"]["title"] == "Hokusai platform API"
    assert client.get("/docs").status_code == 200
