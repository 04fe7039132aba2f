"""The authenticated MLflow proxy, against a real `mlflow server` and the stock MLflow client."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from tests.integration.api.conftest import Api, ApiFactory
from tests.support.api import ServedApp

pytestmark = pytest.mark.realparts


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The proxy does not depend on the database kind; SQLite keeps this module quick."""
    return f"sqlite:///{tmp_path / 'platform.db'}"


@pytest.fixture
def proxied(make_api: ApiFactory, mlflow_server) -> Api:  # type: ignore[no-untyped-def]
    return make_api(mlflow_url=mlflow_server.url)


@pytest.fixture
def tracking(proxied: Api, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the stock MLflow client at the proxy with a write key, as a user's environment would."""
    key = proxied.create_key(name="data scientist", scopes=["read", "write"])["key"]
    uri = f"{proxied.url}/mlflow"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", key)
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


def raw_get(url: str, path: str, key: str) -> tuple[int, bytes]:
    """A GET with the path sent exactly as written (HTTP clients normalise '..' away)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                     "Connection: close\r\n\r\n".encode())  # fmt: skip
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_stock_mlflow_client_logs_registers_and_loads_through_the_proxy(
    tracking: str, tmp_path: Path
) -> None:
    mlflow.set_experiment("proxy-e2e")
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"x" * (3 << 20))
    with mlflow.start_run() as run:
        mlflow.log_param("seed", 42)
        mlflow.log_metric("auroc", 0.93)
        mlflow.log_artifact(str(notes))
        mlflow.sklearn.log_model(
            model, name="model", registered_model_name="proxy-model", pip_requirements=["scikit-learn"]
        )
    client = MlflowClient()
    fetched = client.get_run(run.info.run_id)
    assert fetched.data.params == {"seed": "42"} and fetched.data.metrics == {"auroc": 0.93}
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"notes.txt"}
    downloaded = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes.txt",
                                                     dst_path=str(tmp_path / "down"))  # fmt: skip
    assert Path(downloaded).read_bytes() == notes.read_bytes()
    loaded = mlflow.sklearn.load_model("models:/proxy-model/1")
    assert loaded.predict(np.array([[3.0]])).tolist() == [1]
    assert [r.info.run_id for r in mlflow.search_runs(output_format="list")] == [run.info.run_id]


@pytest.mark.parametrize(
    "path",
    [
        "/mlflow",
        "/mlflow/",
        "/mlflow/static-files/index.js",
        "/mlflow/api/2.0/mlflow/experiments/search",
        "/mlflow/ajax-api/2.0/mlflow/runs/search",
        "/mlflow/api/2.0/mlflow-artifacts/artifacts/0/x",
        "/mlflow/graphql",
    ],
)
def test_every_mlflow_path_needs_a_key(proxied: Api, path: str) -> None:
    with proxied.client() as client:
        for method in ("GET", "POST"):
            response = client.request(method, path)
            assert response.status_code == 401, (method, response.text)
            assert response.json()["error"]["code"] == "credentials_missing"
            assert response.headers["www-authenticate"].startswith("Basic")


def test_a_read_key_can_read_but_not_write(proxied: Api) -> None:
    key = proxied.create_key(name="reader", scopes=["read"])["key"]
    with proxied.client(Authorization=f"Bearer {key}") as client:
        assert (
            client.get("/mlflow/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}).status_code
            == 200
        )
        assert (
            client.post("/mlflow/api/2.0/mlflow/experiments/search", json={"max_results": 5}).status_code
            == 200
        )
        created = client.post("/mlflow/api/2.0/mlflow/experiments/create", json={"name": "nope"})
    assert created.status_code == 403
    assert created.json()["error"]["code"] == "insufficient_scope"


def test_server_info_tells_the_stock_client_to_fetch_artifacts_through_the_proxy(proxied: Api) -> None:
    """Told that the store offers presigned URLs, the stock client asks for one per download (admins only
    here) and would fetch from the store's own address, past the proxy: the proxy says they are off."""
    key = proxied.create_key(name="info", scopes=["read"])["key"]
    with proxied.client(Authorization=f"Bearer {key}") as client:
        answer = client.get("/mlflow/api/3.0/mlflow/server-info")
        assert answer.status_code == 200, answer.text
        info = answer.json()
        assert info["multipart_downloads_enabled"] is False and info["multipart_uploads_enabled"] is False
        assert client.get("/mlflow/api/3.0/mlflow/server-info?x=1").status_code == 400  # read as MLflow would


def test_the_ui_opens_in_a_browser_with_basic_credentials(proxied: Api) -> None:
    key = proxied.create_key(name="browser", scopes=["read"])["key"]
    basic = base64.b64encode(f"me:{key}".encode()).decode()
    with proxied.client(Authorization=f"Basic {basic}") as client:
        page = client.get("/mlflow/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert client.get("/mlflow", follow_redirects=True).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/mlflow/../health",
        "/mlflow/%2e%2e/api/2.0/mlflow/experiments/search",
        "/mlflow/api/2.0/mlflow-artifacts/artifacts/0/../../../../etc/passwd",
        "/mlflow/api/2.0/mlflow/artifacts/list?run_id=abc&path=../../secrets",
    ],
)
def test_path_traversal_is_refused_with_the_error_shape(proxied: Api, path: str) -> None:
    key = proxied.create_key(name="reader", scopes=["read"])["key"]
    status, body = raw_get(proxied.url, path, key)
    assert status == 400, body
    assert b'"code":"bad_path"' in body


def test_mlflow_down_is_a_503_naming_mlflow(make_api: ApiFactory) -> None:
    api = make_api(mlflow_url="http://127.0.0.1:1")
    with api.admin() as admin:
        response = admin.get("/mlflow/api/2.0/mlflow/experiments/search")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "mlflow_unavailable"


def test_the_callers_credentials_never_reach_mlflow(make_api: ApiFactory) -> None:
    seen: list[dict[str, str]] = []
    recorder = FastAPI()

    @recorder.api_route("/{path:path}", methods=["GET", "POST"])
    async def record(path: str, request: Request) -> JSONResponse:
        seen.append({k.lower(): v for k, v in request.headers.items()} | {"path": path})
        return JSONResponse({"ok": "yes"}, headers={"Set-Cookie": "mlflow_session=stolen"})

    spoofed = {"Cookie": "session=1", "X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6",
               "Forwarded": "for=6.6.6.6", "X-Forwarded-Host": "evil.example"}  # fmt: skip
    with ServedApp(recorder) as upstream:  # a recording HTTP server standing where MLflow listens
        api = make_api(mlflow_url=upstream.url)
        with api.admin() as admin:
            response = admin.post(
                "/mlflow/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}, headers=spoofed
            )
    assert response.status_code == 200
    assert "set-cookie" not in response.headers  # MLflow's cookies never reach the client
    assert seen[0]["path"] == "api/2.0/mlflow/runs/create"
    assert not {"authorization", "x-api-key", "cookie", "x-real-ip", "forwarded", "x-forwarded-host"} & set(
        seen[0]
    )
    assert seen[0]["x-forwarded-for"] == "127.0.0.1"  # the real peer, not what the client claimed
    assert httpx.URL(upstream.url).host in seen[0]["host"]
