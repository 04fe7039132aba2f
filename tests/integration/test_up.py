"""``hokusai up`` as a user runs it: ready, errors, clean stop, a dead child, a busy port, PostgreSQL + S3."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from hokusai.config import Settings, env_name
from hokusai.stack import port_in_use
from tests.support.mlflow import log_run
from tests.support.net import free_port
from tests.support.stack import UpProcess

pytestmark = pytest.mark.realparts


@pytest.fixture
def up_env(tmp_path: Path) -> dict[str, str]:
    env = {env_name(field): "" for field in Settings.model_fields if field != "data_dir"}
    env.update({
        "HOKUSAI_DATA_DIR": str(tmp_path / "state"),
        "HOKUSAI_API_PORT": str(free_port()),
        "HOKUSAI_MLFLOW_PORT": str(free_port()),
        "HOKUSAI_ENVIRONMENT": "test",
    })  # fmt: skip
    return {k: v for k, v in env.items() if v}


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[list[UpProcess]]:
    started: list[UpProcess] = []
    yield started
    for process in started:
        process.kill()


def test_up_serves_ready_with_both_probes_and_stops_cleanly_on_sigterm(
    tmp_path: Path, up_env: dict[str, str], launched: list[UpProcess]
) -> None:
    up = UpProcess(tmp_path / "run", up_env)
    launched.append(up)
    up.wait_ready()
    ready = httpx.get(f"{up.api_url}/ready")
    assert ready.status_code == 200
    assert {name: check["ok"] for name, check in ready.json()["checks"].items()} == {
        "database": True,
        "mlflow": True,
    }
    missing = httpx.get(f"{up.api_url}/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Not Found", "details": None}}
    assert f"API     {up.api_url}" in up.stdout
    assert f"docs    {up.api_url}/docs" in up.stdout
    assert f"MLflow  {up.api_url}/mlflow/" in up.stdout

    up.signal(signal.SIGTERM)
    assert up.wait() == 0
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_MLFLOW_PORT"]))
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_API_PORT"]))
    assert "Traceback" not in up.stderr


def test_up_exits_nonzero_with_mlflow_log_lines_when_mlflow_dies(
    tmp_path: Path, up_env: dict[str, str], launched: list[UpProcess]
) -> None:
    up = UpProcess(tmp_path / "run", up_env)
    launched.append(up)
    up.wait_ready()
    os.killpg(up.mlflow_pid(), signal.SIGKILL)
    assert up.wait() == 1
    assert "error: mlflow exited with code" in up.stderr
    mlflow_line = f"Uvicorn running on http://127.0.0.1:{up_env['HOKUSAI_MLFLOW_PORT']}"
    assert mlflow_line in up.stderr  # a line of MLflow's own log, printed by `up`
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_API_PORT"]))


@pytest.mark.parametrize("field", ["api_port", "mlflow_port"])
def test_up_on_a_busy_port_names_the_port_and_exits_2(
    tmp_path: Path, up_env: dict[str, str], launched: list[UpProcess], field: str
) -> None:
    port = int(up_env[env_name(field)])
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        up = UpProcess(tmp_path / "run", up_env)
        launched.append(up)
        assert up.wait() == 2
    lines = up.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert env_name(field) in lines[0]


def test_up_runs_the_same_stack_on_postgres_and_s3(
    tmp_path: Path,
    up_env: dict[str, str],
    launched: list[UpProcess],
    pg_url: str,
    moto_server,
    s3_client,
    s3_bucket: str,  # type: ignore[no-untyped-def]
) -> None:
    args = (
        "--postgres",
        pg_url,
        "--artifacts",
        f"s3://{s3_bucket}/stack",
        "--s3-endpoint",
        moto_server.endpoint,
    )
    up = UpProcess(tmp_path / "run", up_env, args)
    launched.append(up)
    up.wait_ready()
    with psycopg.connect(pg_url) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert {"hk_alembic_version", "experiments", "runs"} <= tables  # platform and MLflow share the database
    mlflow_url = f"http://127.0.0.1:{up_env['HOKUSAI_MLFLOW_PORT']}"
    run_id, name = log_run(mlflow_url, tmp_path)
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    assert any(key.startswith("stack/") and key.endswith(f"{run_id}/artifacts/{name}") for key in keys)
    assert not (tmp_path / "state" / "hokusai.db").exists()

    up.signal(signal.SIGINT)
    assert up.wait() == 0


def test_serve_runs_the_api_alone_against_an_mlflow_elsewhere(
    tmp_path: Path,
    up_env: dict[str, str],
    mlflow_server,
    launched: list[UpProcess],  # type: ignore[no-untyped-def]
) -> None:
    env = {**up_env, "HOKUSAI_MLFLOW_URL": mlflow_server.url}
    serve = UpProcess(tmp_path / "run", env, command="serve")
    launched.append(serve)
    serve.wait_ready(30)
    assert httpx.get(f"{serve.api_url}/ready").json()["checks"]["mlflow"]["ok"] is True
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_MLFLOW_PORT"]))  # no MLflow child of its own
    serve.signal(signal.SIGTERM)
    assert serve.wait() == 0
