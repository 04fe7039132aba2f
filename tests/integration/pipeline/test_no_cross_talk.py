"""CLI evaluations record where the user said, never into a server that merely answers on the MLflow port.

With no tracking setting, `hokusai pipeline demo|run` records into the CLI's own embedded store
(`<data dir>/cli/mlflow.db`), never the store the platform's MLflow reads (`<data dir>/mlflow.db`),
even while a real `mlflow server` listens exactly where the settings' default MLflow URL points (on a
shared host that server may be anyone's). Talking to a platform is explicit (`HOKUSAI_URL` and an API key,
through its authenticated proxy), and the command says where it records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from hokusai.config import load_settings
from hokusai.tracking.target import server_answers
from tests.integration.pipeline.conftest import TARGET, WALLET_A, Case
from tests.integration.pipeline.test_cli import _hokusai
from tests.support.mlflow import MlflowServer, mlflow_settings
from tests.support.platform import serve_platform

pytestmark = pytest.mark.realparts


def _run_args(case: Case, *extra: str) -> list[str]:
    return [
        "pipeline", "run", "--baseline", str(case.baseline_dir), "--train", str(case.train),
        "--benchmark", str(case.benchmark), "--contribution", str(case.good), "--contributor", WALLET_A,
        "--target", TARGET, "--model-name", "cross-talk", "--out", str(case.root / "out"), "--json", *extra,
    ]  # fmt: skip


def _everything_recorded(uri: str) -> tuple[list[str], list[str]]:
    """(run ids, registered model names) in the MLflow at ``uri``: every experiment, every model."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = [r.info.run_id for r in client.search_runs(experiments)] if experiments else []
    return runs, [m.name for m in client.search_registered_models()]


@pytest.fixture
def bystander(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowServer]:
    """Someone else's real MLflow server, listening at the URL the CLI's settings default to."""
    server = MlflowServer(mlflow_settings(tmp_path / "someone-else")).start()
    port = server.url.rsplit(":", 1)[1]
    for name in (
        "HOKUSAI_TRACKING_URI",
        "HOKUSAI_URL",
        "HOKUSAI_API_KEY",
        "HOKUSAI_MLFLOW_URL",
        "MLFLOW_TRACKING_TOKEN",
    ):
        monkeypatch.setenv(name, "")  # restored (unset) after the test, whatever the command sets
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOKUSAI_MLFLOW_PORT", port)
    monkeypatch.setenv("HOKUSAI_DATA_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    assert load_settings().mlflow_url == server.url and server_answers(server.url)  # the old probe's find
    yield server
    server.stop()


def test_demo_records_into_its_own_embedded_store_while_a_server_answers_on_the_mlflow_port(
    bystander: MlflowServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _hokusai(["pipeline", "demo", "--out", str(tmp_path / "out"), "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert _everything_recorded(bystander.url) == ([], [])
    embedded = f"sqlite:///{tmp_path / 'mine' / 'cli' / 'mlflow.db'}"
    assert result["tracking_uri"] == embedded
    runs, models = _everything_recorded(embedded)
    assert result["mlflow_run_id"] in runs and result["registered_model_name"] in models
    assert f"MLflow: the embedded MLflow store {embedded}" in err
    # the store a platform on this data dir would serve (`hokusai up`'s MLflow) holds nothing of it
    platform_store = load_settings().mlflow_backend_store_uri
    assert platform_store == f"sqlite:///{tmp_path / 'mine' / 'mlflow.db'}"
    assert not (tmp_path / "mine" / "mlflow.db").exists()
    assert not (tmp_path / "mine" / "mlartifacts").exists()


def test_run_records_into_the_platform_only_when_hokusai_url_and_a_key_are_set(
    bystander: MlflowServer,
    case: Case,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    platform_mlflow = MlflowServer(mlflow_settings(tmp_path / "platform-mlflow")).start()
    settings = mlflow_settings(tmp_path / "platform", mlflow_url=platform_mlflow.url)
    try:
        with serve_platform(settings) as platform:
            monkeypatch.setenv("HOKUSAI_URL", platform.url)
            monkeypatch.setenv("HOKUSAI_API_KEY", platform.admin_key)
            code, out, err = _hokusai(_run_args(case), capsys)
        assert code == 0, err
        result = json.loads(out)
        assert result["tracking_uri"] == f"{platform.url}/mlflow"  # the platform's address, not MLflow's
        runs, models = _everything_recorded(platform_mlflow.url)
        assert result["mlflow_run_id"] in runs and "cross-talk" in models
        assert _everything_recorded(bystander.url) == ([], [])
        assert not (tmp_path / "mine" / "mlflow.db").exists()
        assert f"MLflow: the platform at {platform.url} (HOKUSAI_URL), through its MLflow proxy" in err
    finally:
        platform_mlflow.stop()


def test_hokusai_url_without_a_key_is_one_line_naming_hokusai_api_key_and_exit_2(
    bystander: MlflowServer, case: Case, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOKUSAI_URL", "http://127.0.0.1:9")
    code, out, err = _hokusai(_run_args(case), capsys)
    assert code == 2 and json.loads(out)["error"]["code"] == "invalid_config"  # --json: the error on stdout
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "HOKUSAI_API_KEY" in lines[0] and "HOKUSAI_URL is set" in lines[0]
    assert _everything_recorded(bystander.url) == ([], [])
