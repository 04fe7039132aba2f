"""MLflow proxy rules: traversal refused, reads need `read`, mutations need `write`, credentials stay."""

from __future__ import annotations

import pytest

from hokusai.errors import InvalidInput
from hokusai.server.proxy_rules import request_headers, required_scope, upstream_path


@pytest.mark.parametrize(
    ("path", "raw", "query"),
    [
        ("../etc/passwd", b"/mlflow/../etc/passwd", ""),
        (
            "api/2.0/mlflow-artifacts/artifacts/1/../../x",
            b"/mlflow/api/2.0/mlflow-artifacts/artifacts/1/../../x",
            "",
        ),
        ("api/2.0/x", b"/mlflow/%2e%2e/api/2.0/x", ""),
        (
            "api/2.0/mlflow/artifacts/list",
            b"/mlflow/api/2.0/mlflow/artifacts/list",
            "run_id=1&path=../../secrets",
        ),
        ("a\\..\\b", b"/mlflow/a%5c..%5cb", ""),
    ],
)
def test_traversal_is_refused(path: str, raw: bytes, query: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        upstream_path(path, raw, query)
    assert caught.value.code == "bad_path"


def test_ordinary_paths_pass_unchanged() -> None:
    path = "api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/MLmodel"
    assert upstream_path(path, f"/mlflow/{path}".encode(), "") == path
    assert upstream_path("", b"/mlflow/", "") == ""


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "api/2.0/mlflow/experiments/get", "read"),
        ("HEAD", "", "read"),
        ("POST", "api/2.0/mlflow/runs/search", "read"),
        ("POST", "ajax-api/2.0/mlflow/experiments/search", "read"),
        ("POST", "graphql", "read"),
        ("POST", "api/2.0/mlflow/runs/create", "write"),
        ("POST", "api/2.0/mlflow/runs/log-metric", "write"),
        ("PUT", "api/2.0/mlflow-artifacts/artifacts/1/x/artifacts/f.txt", "write"),
        ("DELETE", "api/2.0/mlflow/experiments/delete", "write"),
        ("POST", "api/2.0/mlflow/registered-models/create", "write"),
    ],
)
def test_scope_follows_what_the_request_does(method: str, path: str, scope: str) -> None:
    assert required_scope(method, path) == scope


def test_client_credentials_and_hop_headers_are_not_forwarded() -> None:
    sent = request_headers([
        ("Authorization", "Bearer hk_live_abc_secret"), ("X-API-Key", "k"), ("X-ETH-Signature", "0x"),
        ("Host", "api"), ("Connection", "keep-alive"), ("Content-Type", "application/json"),
        ("Cookie", "s=1"),
    ])  # fmt: skip
    assert sent == [("Content-Type", "application/json")]
