"""MLflow's two storage paths, on real parts: PostgreSQL + S3 (moto) and the embedded defaults."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from hokusai.config import Settings
from tests.support.mlflow import MlflowServer, log_run, mlflow_settings

pytestmark = pytest.mark.realparts


def test_mlflow_on_postgres_keeps_artifacts_in_the_s3_bucket(
    tmp_path: Path,
    pg_url: str,
    moto_server,
    s3_client,
    s3_bucket: str,  # type: ignore[no-untyped-def]
) -> None:
    settings = mlflow_settings(
        tmp_path / "state",
        mlflow_backend_store_uri=pg_url,
        artifact_root=f"s3://{s3_bucket}/mlflow",
        s3_endpoint_url=moto_server.endpoint,
    )
    server = MlflowServer(settings).start()
    try:
        run_id, name = log_run(server.url, tmp_path)
    finally:
        server.stop()
    keys = [
        o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="mlflow/").get("Contents", [])
    ]
    assert any(key.endswith(f"{run_id}/artifacts/{name}") for key in keys), keys
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE run_uuid = %s", (run_id,)).fetchone() == (1,)
    assert not (settings.data_dir / "mlartifacts").exists()


def test_mlflow_on_embedded_defaults_keeps_artifacts_in_the_data_dir(
    settings: Settings, tmp_path: Path
) -> None:
    server = MlflowServer(settings).start()
    try:
        run_id, name = log_run(server.url, tmp_path)
    finally:
        server.stop()
    stored = list(Path(str(settings.artifact_root)).rglob(name))
    assert len(stored) == 1 and run_id in str(stored[0])
    db = str(settings.mlflow_backend_store_uri).removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE run_uuid = ?", (run_id,)).fetchone() == (1,)
