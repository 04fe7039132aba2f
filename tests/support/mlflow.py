"""An ``mlflow server`` child started exactly as ``hokusai up`` starts it (same command builder)."""

from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from hokusai.config import Settings
from hokusai.stack import Child, mlflow_server_command, mlflow_server_env, wait_for_health
from tests.support.net import free_port


def mlflow_settings(data_dir: Path, **overrides: object) -> Settings:
    """Test settings: state in ``data_dir``, free ports for the API and MLflow."""
    values: dict[str, object] = {
        "environment": "test",
        "data_dir": data_dir,
        "api_port": free_port(),
        "mlflow_port": free_port(),
        # no worker started ahead (each holds ~360 MB and imports for seconds): test_up.py tests it
        "job_standby": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class MlflowServer:
    """A supervised MLflow server for ``settings``; ``url`` is where it answers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = str(settings.mlflow_url)
        self.child: Child | None = None

    def start(self, timeout: float = 120.0) -> MlflowServer:
        self.child = Child(
            "mlflow",
            mlflow_server_command(self.settings),
            mlflow_server_env(self.settings),
            self.settings.data_dir / "logs" / "mlflow.log",
        )
        wait_for_health(f"{self.url}/health", self.child, timeout)
        return self

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None


def log_run(url: str, tmp_path: Path) -> tuple[str, str]:
    """Create a run with a param, a metric and an artifact through the tracking server."""
    client = MlflowClient(tracking_uri=url)
    experiment_id = client.create_experiment(f"storage-{tmp_path.name}")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "seed", "42")
    client.log_metric(run.info.run_id, "auroc", 0.91)
    artifact = tmp_path / "evidence.txt"
    artifact.write_text("contributed data helped\n")
    client.log_artifact(run.info.run_id, str(artifact))
    client.set_terminated(run.info.run_id)
    stored = client.get_run(run.info.run_id)
    assert stored.data.params == {"seed": "42"}
    assert stored.data.metrics == {"auroc": 0.91}
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["evidence.txt"]
    return run.info.run_id, artifact.name
