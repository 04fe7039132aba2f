"""MLflow proxy rules: traversal refused; the allowlist says what each request is; credentials and a
client's forwarding claims stay here."""

from __future__ import annotations

import json
import re

import pytest

from hokusai.errors import InvalidInput
from hokusai.server.mlflow_access import ROUTES, match, values_at
from hokusai.server.mlflow_access import Request as AccessRequest
from hokusai.server.mlflow_messages import endpoints, find
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


# --- the request as MLflow reads it (mlflow_messages) -----------------------------------------------

A, B = "a" * 32, "b" * 32


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "reason"),
    [
        ("POST", "api/2.0/mlflow/runs/log-metric", "",
         json.dumps(json.dumps({"run_id": B, "key": "m", "value": 1, "timestamp": 1})), "JSON object"),
        ("POST", "api/2.0/mlflow/runs/delete", "", f'{{"run_id": "{A}", "run_id": "{B}"}}', "twice"),
        ("POST", "api/2.0/mlflow/runs/set-tag", "", json.dumps({"run_id": A, "key": "k", "x": 1}),
         "no field named"),
        ("POST", "api/2.0/mlflow/runs/set-tag", "", json.dumps({"run_id": A, "runId": B, "key": "k"}),
         "spells one field twice"),
        ("POST", "api/2.0/mlflow/runs/log-metric", "", json.dumps({"run_uuid": A, "runId": B, "key": "m"}),
         "name one id"),
        ("POST", "api/2.0/mlflow/runs/log-batch", "", json.dumps({"run_id": A, "metrics": [
            {"key": "m", "value": 1, "timestamp": 1, "step": 0, "modelId": "m-1", "model_id": "m-2"}]}),
         "spells one field twice"),
        ("POST", "api/2.0/mlflow/runs/log-metric", f"run_id={A}", json.dumps({"run_id": A, "key": "m"}),
         "leave the query string out"),
        ("POST", "api/2.0/mlflow/experiments/create", "",
         json.dumps(json.dumps({"name": "x", "artifact_location": "file:///etc"})), "JSON object"),
        ("PATCH", "api/2.0/mlflow/logged-models/m-1", "", json.dumps({"model_id": "m-2", "status": 1}),
         "differs from"),
        ("GET", "api/2.0/mlflow/runs/get", f"run_id={A}&run_id={B}", "", "given 2 times"),
        ("GET", "api/2.0/mlflow/runs/get", f"run_uuid={A}&run_id={B}", "", "name one id"),
        ("GET", "api/2.0/mlflow/runs/get", f"runId={B}&run_id={A}", "", "does not take"),
        ("GET", "get-artifact", f"run_id={A}&run_uuid={B}&path=x", "", "name one id"),
        ("GET", "api/3.0/mlflow/traces/get", "trace_id=t&allow_partial=yes", "", "boolean"),
        ("POST", "graphql", "", json.dumps({"query": "{ test }", "extra": 1}), "GraphQL"),
        ("POST", "graphql", "", '"{}"', "JSON object"),
    ],
)  # fmt: skip
def test_requests_mlflow_could_read_differently_are_400(
    method: str, path: str, query: str, body: str, reason: str
) -> None:
    bound = find(method, path)
    assert bound is not None
    with pytest.raises(InvalidInput) as caught:
        bound.parse(query, body.encode() if bound.endpoint.reads_body else None)
    assert caught.value.code == "mlflow_bad_request"
    assert reason in caught.value.message


def test_the_forwarded_request_is_the_parsed_message() -> None:
    bound = find("POST", "ajax-api/2.0/mlflow/runs/log-metric")
    assert bound is not None
    parsed = bound.parse("", json.dumps({"runId": B, "key": "m", "value": 0.5, "timestamp": 3}).encode())
    assert parsed.fields == {"run_id": B, "key": "m", "value": 0.5, "timestamp": "3"}
    assert json.loads(parsed.body or b"") == parsed.fields  # proto names, what MLflow will parse
    search = find("GET", "api/2.0/mlflow/metrics/get-history-bulk-interval")
    assert search is not None
    got = search.parse(f"run_ids={A}&run_ids={B}&metric_key=m%20x&max_results=3", None)
    assert got.fields["run_ids"] == [A, B] and got.body is None
    assert got.query == f"run_ids={A}&run_ids={B}&metric_key=m+x&max_results=3"
    trace = find("GET", "api/3.0/mlflow/traces/get")
    assert trace is not None and trace.parse("trace_id=t&allow_partial=TRUE", None).query == (
        "trace_id=t&allow_partial=true"
    )


def test_the_checked_ids_are_what_mlflow_acts_on() -> None:
    """``run_id or run_uuid``: the alias is read when the first is absent."""
    bound = find("POST", "api/2.0/mlflow/runs/set-tag")
    assert bound is not None
    fields = bound.parse("", json.dumps({"run_uuid": B, "key": "k", "value": "v"}).encode()).fields
    assert AccessRequest("POST", "api/2.0/mlflow/runs/set-tag", fields).ids("run_id|run_uuid") == [B]


def test_flask_precedence_literal_paths_before_parameters() -> None:
    literal = find("GET", "api/3.0/mlflow/traces/get")
    parametrised = find("GET", "api/3.0/mlflow/traces/tr-1")
    assert literal is not None and literal.path == {}
    assert parametrised is not None and parametrised.path == {"trace_id": "tr-1"}


def test_every_allowlisted_route_reaches_a_known_mlflow_endpoint() -> None:
    """Each ROUTES entry (but the UI shell) matches an endpoint whose request the proxy can parse."""
    covered = set()
    for endpoint in endpoints():
        sample = re.sub(r"\{(\w+)\}|<path:(\w+)>", "x1", endpoint.template)
        for prefix in ("api/", ""):
            if found := match(endpoint.method, prefix + sample):
                covered.add(found[0])
    missing = [f"{r.method} {r.path.pattern}" for r in ROUTES if r.kind != "open" and r not in covered]
    assert not missing
