"""Metrics (auth failures by reason, 429s, routes by template), request ids, JSON logs, CORS."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from hokusai.log import JsonFormatter
from tests.integration.api.conftest import PROBE, Api, ApiFactory

pytestmark = pytest.mark.realparts


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The ``hokusai`` loggers' JSON lines, as the API writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("hokusai")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def metric(api: Api, line_start: str) -> float:
    text = httpx.get(f"{api.url}/metrics").text
    lines = [line for line in text.splitlines() if line.startswith(line_start)]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


def test_auth_failures_are_counted_by_reason(api: Api) -> None:
    httpx.get(api.url + PROBE)
    httpx.get(api.url + PROBE, headers={"Authorization": "Bearer hk_test_abcdefgh1234_" + "C" * 40})
    httpx.get(api.url + PROBE, headers={"Authorization": "Bearer hk_test_abcdefgh1234_" + "D" * 40})
    assert metric(api, 'hokusai_auth_failures_total{reason="credentials_missing"}') == 1
    assert metric(api, 'hokusai_auth_failures_total{reason="key_unknown"}') == 2


def test_rate_limited_requests_are_counted(make_api: ApiFactory) -> None:
    api = make_api(rate_limit_per_minute=2)
    with api.admin() as admin:
        for _ in range(4):
            admin.get("/api/v1/me")
    assert metric(api, 'hokusai_rate_limited_total{bucket="api_key"}') == 2


def test_requests_are_counted_by_route_template_and_status(api: Api) -> None:
    key_id = api.create_key()["id"]
    with api.admin() as admin:
        admin.delete(f"/api/v1/keys/{key_id}")
    route = 'hokusai_http_requests_total{method="DELETE",route="/api/v1/keys/{key_id}",status="200"}'
    assert metric(api, route) == 1
    assert metric(api, 'hokusai_http_request_duration_seconds_count{method="POST",route="/api/v1/keys"}') == 1


def test_refused_request_echoes_its_request_id_and_logs_it_as_json(api: Api, json_logs: io.StringIO) -> None:
    response = httpx.get(api.url + PROBE, headers={"X-Request-ID": "trace-401-abc"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "trace-401-abc"
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    failure = next(r for r in records if r["message"] == "authentication failed")
    assert failure["request_id"] == "trace-401-abc"
    assert failure["reason"] == "credentials_missing"
    assert failure["client_ip"] == "127.0.0.1"


def test_failed_sign_ins_are_in_the_audit_log(api: Api) -> None:
    from sqlalchemy import select

    from hokusai.server.db import create_db_engine
    from hokusai.server.db.models import AuditEvent

    httpx.get(
        api.url + PROBE, headers={"X-API-Key": "hk_test_abcdefgh1234_" + "E" * 40, "X-Request-ID": "r-1"}
    )
    engine = create_db_engine(str(api.settings.database_url))
    with engine.connect() as connection:
        rows = connection.execute(select(AuditEvent).where(AuditEvent.event == "auth_failed")).all()
    engine.dispose()
    assert [(r.reason, r.key_id, r.request_id) for r in rows] == [("key_unknown", "abcdefgh1234", "r-1")]


def test_cors_preflight_to_a_protected_path_succeeds_without_credentials(make_api: ApiFactory) -> None:
    api = make_api(cors_origins="https://app.example")
    response = httpx.options(
        f"{api.url}/api/v1/keys",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert api.hits == []
    refused = httpx.get(api.url + PROBE, headers={"Origin": "https://app.example"})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "https://app.example"
