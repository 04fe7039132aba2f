"""The containerised stack of ``docker/compose.yaml``, run with podman-compose on this machine.

Docker Hub is not reachable here, so PostgreSQL and S3 are the stand-ins of ``docker/stand-ins/`` (Debian's
postgresql-15, moto's S3 server), chosen through the compose file's image variables; the API and MLflow
images are the session's (``tests.support.containers``). The API starts its run containers through a
podman Engine API service on a private socket (``EngineService``), mounted into the API container.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.containers import API_IMAGE, MLFLOW_IMAGE, REPO, TAG, podman, podman_env
from tests.support.net import stop_process

COMPOSE_FILE = REPO / "docker" / "compose.yaml"
POSTGRES_STAND_IN = "localhost/hokusai-stand-in-postgres:15"
S3_STAND_IN = "localhost/hokusai-stand-in-s3:moto"
STAND_INS = {
    POSTGRES_STAND_IN: "docker/stand-ins/postgres.Dockerfile",
    S3_STAND_IN: "docker/stand-ins/s3.Dockerfile",
}
# The stand-in S3 has no `mc`: its health is a plain HTTP answer on its port.
S3_STAND_IN_HEALTHCHECK = (
    "python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:9000/', timeout=2)\""
)
SERVICES = ("postgres", "s3", "buckets", "mlflow", "api")


def compose_missing() -> str | None:
    """Why the stack cannot run here (podman-compose absent), else None."""
    try:
        import podman_compose  # noqa: F401
    except ImportError:
        return "podman-compose is not installed: pip install -e '.[test]'"
    return None


def build_stand_ins() -> None:
    """Build the PostgreSQL and S3 stand-ins (seconds when podman's layer cache holds them)."""
    for tag, dockerfile in STAND_INS.items():
        podman("build", "--format", "docker", "--file", dockerfile, "--tag", tag, str(REPO), timeout=1800)


class EngineService:
    """``podman system service`` on a private unix socket: the Docker-compatible Engine API the API's
    container runner talks to (mounted into the API container)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hokusai-engine-"))
        self.dir.chmod(0o711)  # the API container's user (uid 10001) reaches the socket, nothing else
        self.socket = self.dir / "podman.sock"
        self.process = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{self.socket}"],
            env=podman_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("podman system service did not create its socket")
            time.sleep(0.1)
        self.socket.chmod(
            0o660
        )  # owner root, group root: the API container joins group 0 (ENGINE_SOCKET_GID)

    def stop(self) -> None:
        stop_process(self.process)
        self.socket.unlink(missing_ok=True)
        self.dir.rmdir()


@dataclass
class Stack:
    """One compose project: its published API URL, its environment and how to reach its containers."""

    project: str
    api_port: int
    env: dict[str, str]
    files: list[Path]
    logs: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def compose(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """``podman-compose -p PROJECT -f ... ARGS`` with the stack's variables."""
        files = [arg for path in self.files for arg in ("-f", str(path))]
        command = [sys.executable, "-m", "podman_compose", "-p", self.project, *files, *args]
        result = subprocess.run(
            command, env=podman_env(**self.env), capture_output=True, text=True, timeout=timeout, cwd=REPO
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"podman-compose {' '.join(args)} exited {result.returncode}:\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")  # fmt: skip
        return result

    def container(self, service: str) -> str:
        """The container name podman-compose gives ``service``."""
        return f"{self.project}_{service}_1"

    def state(self, service: str) -> dict[str, Any]:
        """``podman inspect``'s State of the service's container."""
        return json.loads(podman("inspect", "--format", "{{json .State}}", self.container(service)).stdout)

    def restarts(self, service: str) -> int:
        return int(podman("inspect", "--format", "{{.RestartCount}}", self.container(service)).stdout.strip())

    def crash(self, service: str) -> None:
        """SIGKILL the service's main process from the host, as the kernel's OOM killer would: unlike
        ``podman kill`` (a stop by the operator), a crash is what the restart policy answers."""
        pid = self.state(service)["Pid"]
        assert pid > 0, f"{service} is not running"
        os.kill(pid, signal.SIGKILL)

    def run_containers(self) -> list[str]:
        """Names of the run containers (label ``org.hokusai.run``) that exist now."""
        filters = ("--filter", "label=org.hokusai.run", "--filter", f"network={self.project}")
        listed = podman("ps", "--all", *filters, "--format", "{{.Names}}")
        return listed.stdout.split()

    def wait_ready(self, timeout: float = 300) -> float:
        """Wait until ``/ready`` answers 200 through the published port; seconds waited."""
        started = time.monotonic()
        last = "no answer"
        while time.monotonic() - started < timeout:
            try:
                answer = httpx.get(f"{self.url}/ready", timeout=5)
                if answer.status_code == 200:
                    return time.monotonic() - started
                last = f"{answer.status_code} {answer.text[:300]}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.5)
        raise TimeoutError(f"the stack's /ready did not answer 200 in {timeout:.0f} s (last: {last})\n"
                           + self.compose("logs", "--tail", "40", check=False).stdout[-6000:])  # fmt: skip


def write_override(path: Path, api_env: dict[str, str]) -> Path:
    """A compose file that adds ``api_env`` to the API service (merged over docker/compose.yaml)."""
    path.write_text(json.dumps({"services": {"api": {"environment": api_env}}}, indent=2))
    return path


@contextmanager
def compose_stack(
    workdir: Path, api_port: int, api_env: dict[str, str], project: str | None = None
) -> Iterator[Stack]:
    """The stack up (stand-ins, the session's images, an engine service), torn down with its volumes after."""
    engine = EngineService()
    project = project or f"hokusai-{TAG}-{os.getpid()}"
    env = {
        "POSTGRES_IMAGE": POSTGRES_STAND_IN,
        "S3_IMAGE": S3_STAND_IN,
        "S3_HEALTHCHECK": S3_STAND_IN_HEALTHCHECK,
        "API_IMAGE": API_IMAGE,
        "MLFLOW_IMAGE": MLFLOW_IMAGE,
        "API_PORT": str(api_port),
        "STACK_NETWORK": project,
        "ENGINE_SOCKET": str(engine.socket),
        "ENGINE_SOCKET_GID": "0",
    }
    override = write_override(workdir / "compose.test.json", api_env)
    stack = Stack(project, api_port, env, [COMPOSE_FILE, override])
    try:
        stack.compose("up", "-d", "--no-deps")  # podman 4.3: see the header of docker/compose.yaml
        yield stack
    finally:
        # run containers first (they hold the network), then the services with their anonymous /tmp volumes
        project_label = f"label=io.podman.compose.project={project}"
        services = podman("ps", "--all", "--filter", project_label, "--format", "{{.Names}}", check=False)
        for name in [*stack.run_containers(), *services.stdout.split()]:
            podman("rm", "--force", "--volumes", "--time", "3", name, check=False)
        stack.compose("down", "-v", "--timeout", "3", check=False)
        podman("network", "rm", "--force", project, check=False)
        engine.stop()
