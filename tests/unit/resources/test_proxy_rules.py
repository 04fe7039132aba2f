"""MLflow proxy rules: traversal refused; the allowlist says what each request is; credentials and a
client's forwarding claims stay here."""

from __future__ import annotations

import pytest

from hokusai.errors import InvalidInput
from hokusai.server.mlflow_access import match, values_at
from hokusai.server.proxy_rules import request_headers, upstream_path


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
    ("method", "path", "operation", "kind"),
    [
        ("GET", "api/2.0/mlflow/experiments/get", "read", "experiment"),
        ("HEAD", "", "read", "open"),
        ("POST", "api/2.0/mlflow/runs/search", "read", "experiment"),
        ("POST", "ajax-api/2.0/mlflow/experiments/search", "read", "search_experiments"),
        ("POST", "graphql", "read", "graphql"),
        ("POST", "api/2.0/mlflow/runs/create", "update", "experiment"),
        ("POST", "api/2.0/mlflow/runs/log-metric", "update", "run"),
        ("PUT", "api/2.0/mlflow-artifacts/artifacts/1/x/artifacts/f.txt", "update", "artifact"),
        ("POST", "api/2.0/mlflow/experiments/delete", "delete", "experiment"),
        ("POST", "api/2.0/mlflow/registered-models/create", "update", "create_registered_model"),
        ("POST", "ajax-api/3.0/mlflow/traces/metrics", "read", "experiment"),
        ("POST", "ajax-api/2.0/mlflow/experiments/search-datasets", "read", "experiment"),
    ],
)
def test_the_allowlist_says_what_a_request_does(method: str, path: str, operation: str, kind: str) -> None:
    found = match(method, path)
    assert found is not None
    assert (found[0].op, found[0].kind) == (operation, kind)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "api/3.0/mlflow/gateway/secrets/create"),
        ("GET", "api/3.0/mlflow/gateway/secrets/list"),
        ("POST", "ajax-api/2.0/mlflow/gateway-proxy"),
        ("POST", "api/3.0/mlflow/prompt-optimization/jobs"),
        ("POST", "api/3.0/mlflow/workspaces"),
        ("POST", "ajax-api/2.0/mlflow/runs/create-promptlab-run"),
        ("GET", "api/2.0/mlflow/users/get"),
    ],
)
def test_endpoints_outside_the_allowlist_match_nothing(method: str, path: str) -> None:
    assert match(method, path) is None


def test_ids_are_found_at_dotted_paths_in_json_bodies() -> None:
    body = {
        "locations": [
            {"mlflow_experiment": {"experiment_id": "4"}},
            {"mlflow_experiment": {"experiment_id": 7}},
        ]
    }
    assert values_at(body, "locations[].mlflow_experiment.experiment_id") == ["4", "7"]
    assert values_at({"experiment_ids": ["1", "2"]}, "experiment_ids") == ["1", "2"]
    assert values_at({"run_id": True}, "run_id") == []


def test_client_credentials_hop_and_forwarding_headers_are_not_forwarded() -> None:
    sent = request_headers([
        ("Authorization", "Bearer hk_live_abc_secret"), ("X-API-Key", "k"), ("X-ETH-Signature", "0x"),
        ("Host", "api"), ("Connection", "keep-alive"), ("Content-Type", "application/json"),
        ("Cookie", "s=1"), ("X-Forwarded-For", "6.6.6.6"), ("X-Real-IP", "6.6.6.6"),
        ("Forwarded", "for=6.6.6.6"),
    ], "127.0.0.9")  # fmt: skip
    assert sent == [("Content-Type", "application/json"), ("X-Forwarded-For", "127.0.0.9")]
