"""The `container` job runner against a real podman Engine API service (``podman system service``).

Each run is a one-off container started through the Docker-compatible API on a unix socket: it gets the
environment it was given plus its one-run token and its own name, a read-only root with ``/tmp`` writable
(as a Fargate task), its output lands in the run log, its exit code reaches ``on_exit``, and it is removed.
``is_alive`` answers from the container's state. The settings' runner never hands a worker the signing key.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hokusai.config import Settings
from hokusai.server.jobs import RUN_LABEL, WORKER_CONTAINER_ENV, ContainerRunner, make_runner
from tests.support import containers
from tests.support.compose import EngineService

pytestmark = pytest.mark.containers
BASE = "docker.io/library/python:3.11-slim-bookworm"  # the stand-in base: a shell, quick to start


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineService]:
    missing = containers.missing_tools()
    if missing:
        pytest.skip(
            f"container tools not installed: {', '.join(missing)} (apt-get install podman runc debootstrap)"
        )
    containers.ensure_base()
    service = EngineService()
    yield service
    service.stop()


def test_a_run_container_gets_its_environment_a_read_only_root_and_reports_its_exit(
    engine: EngineService, tmp_path: Path
) -> None:
    exited: dict[str, int] = {}
    done = threading.Event()

    def on_exit(run_id: str, code: int) -> None:
        exited[run_id] = code
        done.set()

    script = (
        "env; touch /tmp/ok && echo tmp-writable; touch /root-file 2>/dev/null || echo root-read-only; exit 7"
    )
    runner = ContainerRunner(
        on_exit, socket_path=str(engine.socket), image=BASE, env={"HOKUSAI_MLFLOW_URL": "http://mlflow:5000"},
        max_workers=1, log_dir=tmp_path / "logs", command=lambda run_id: ["sh", "-c", script],
    )  # fmt: skip
    try:
        runner.submit("run1", "token-1")
        assert done.wait(120), "the run container never reported its exit"
    finally:
        runner.shutdown()
    assert exited == {"run1": 7}
    log = (tmp_path / "logs" / "run1.log").read_text()
    assert "HOKUSAI_MLFLOW_URL=http://mlflow:5000" in log and "HOKUSAI_RUN_TOKEN=token-1" in log
    assert f"{WORKER_CONTAINER_ENV}=hokusai-run-run1-" in log
    assert "tmp-writable" in log and "root-read-only" in log
    left = containers.podman("ps", "--all", "--filter", f"label={RUN_LABEL}=run1", "--format", "{{.Names}}")
    assert left.stdout.strip() == ""  # removed once its output is in the run log


def test_liveness_follows_the_container_and_the_signing_key_never_reaches_a_worker(
    engine: EngineService, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, job_runner="container", container_image=BASE,
        container_engine_socket=str(engine.socket), signer_key="0x" + "11" * 32,
    )  # fmt: skip
    runner = make_runner(settings, lambda run_id, code: None)
    assert isinstance(runner, ContainerRunner)
    try:
        env = runner._env
        assert "HOKUSAI_SIGNER_KEY" not in env and "HOKUSAI_SIGNER_KEY_FILE" not in env
        assert env["HOKUSAI_DATA_DIR"] == str(tmp_path) and "HOSTNAME" not in env
        name = "hokusai-run-liveness-test"
        containers.run_detached(BASE, name, command=("sleep", "60"))
        try:
            assert runner.is_alive(f"container:{name}")
        finally:
            containers.podman("rm", "--force", "--time", "0", name)
        assert not runner.is_alive(f"container:{name}")
        assert not runner.is_alive("local:somewhere:1") and not runner.is_alive("container:")
    finally:
        runner.shutdown()
