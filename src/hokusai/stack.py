"""``hokusai up``: run the MLflow tracking server as a supervised child and the API in the foreground.

Order: check both ports are free, spawn MLflow, apply the platform's migrations and build the app
while MLflow boots, wait for MLflow's /health, then serve the API. If MLflow dies, the API stops and
``up`` exits non-zero with MLflow's last log lines; Ctrl-C / SIGTERM stops both cleanly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import httpx

from hokusai.config import Settings, env_name
from hokusai.errors import ConfigError, HokusaiError, ServiceUnavailable

if TYPE_CHECKING:  # heavy imports stay out of the CLI's start-up; loaded while MLflow boots
    import uvicorn
    from fastapi import FastAPI

LOG_TAIL_LINES = 25


class ChildDied(HokusaiError):
    """A supervised child exited on its own; carries its last log lines."""

    code = "child_died"
    exit_code = 1


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def ensure_ports_free(settings: Settings) -> None:
    """Refuse to start (exit 2) when the API or MLflow port is taken, naming the port and its variable."""
    for field, host, port in (
        ("api_port", settings.api_host, settings.api_port),
        ("mlflow_port", settings.mlflow_host, settings.mlflow_port),
    ):
        if port_in_use(host, port):
            raise ConfigError(
                f"port {port} on {host} is already in use (is another `hokusai up` running?); "
                f"stop that process or set {env_name(field)} to a free port"
            )


def default_allowed_hosts(settings: Settings) -> str:
    """Host headers MLflow accepts: loopback, its own bind address, and anything configured."""
    hosts = ["localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", f"{settings.mlflow_host}:*"]
    return ",".join(dict.fromkeys(hosts))


def mlflow_server_command(settings: Settings, workers: int = 1) -> list[str]:
    """The ``mlflow server`` command line for these settings: one worker, proxied artifact serving."""
    return [
        sys.executable, "-m", "mlflow", "server",
        "--host", settings.mlflow_host,
        "--port", str(settings.mlflow_port),
        "--workers", str(workers),
        "--backend-store-uri", str(settings.mlflow_backend_store_uri),
        "--serve-artifacts",
        "--artifacts-destination", str(settings.artifact_root),
        "--allowed-hosts", settings.mlflow_allowed_hosts or default_allowed_hosts(settings),
    ]  # fmt: skip


def mlflow_server_env(settings: Settings) -> dict[str, str]:
    """Environment for the MLflow child: S3 endpoint for S3-compatible stores, job runner off."""
    env = dict(os.environ)
    # MLflow's job runner (huey consumers for GenAI scorers and trace roll-ups) is unused by the
    # platform and costs several processes; off unless the operator turns it back on.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    if settings.s3_endpoint_url:
        env["MLFLOW_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Child:
    """A child process in its own process group, output appended to a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self._log_start = self._log.tell()
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = LOG_TAIL_LINES) -> list[str]:
        """The last ``lines`` lines this child wrote in this run."""
        with self.log_path.open("rb") as handle:
            handle.seek(self._log_start)
            last = deque(handle, maxlen=lines)
        return [line.decode("utf-8", "replace").rstrip() for line in last]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole group, then SIGKILL after ``timeout`` seconds."""
        if self.alive():
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:  # the leader is gone; its group (uvicorn workers) may not be
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


def wait_for_health(url: str, child: Child, timeout: float) -> None:
    """Poll ``url`` until 200; fail fast if the child exits, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if not child.alive():
                raise ChildDied(
                    f"{child.name} exited with code {child.process.returncode} while starting",
                    details=child.tail(),
                )
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise ServiceUnavailable(f"{child.name} did not answer {url} within {timeout:g}s", details=child.tail())


def _raise_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, and both as a clean stop (uvicorn re-raises them after shutting down)."""
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def prepare_app(settings: Settings) -> FastAPI:
    """Apply the platform's migrations and build the API app (no sockets yet)."""
    from hokusai.server.app import create_app
    from hokusai.server.db import upgrade_database

    upgrade_database(str(settings.database_url))
    return create_app(settings)


def first_start_notice(app: FastAPI) -> dict[str, str]:
    """Make sure an admin can get in; on an empty database the new admin key, to be announced once."""
    from hokusai.server.services.keys import ensure_bootstrap_admin

    state = app.state.hokusai
    with state.sessions() as session:
        key = ensure_bootstrap_admin(session, state.settings)
    return {"admin_key": key} if key else {}


def make_server(settings: Settings, app: FastAPI) -> tuple[uvicorn.Server, socket.socket]:
    """A uvicorn server for ``app`` and its bound socket (bound before URLs are printed: no race)."""
    import uvicorn

    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_config=None,
        access_log=False, lifespan="on", timeout_graceful_shutdown=10,
        # a client's own X-Forwarded-For is believed only from the proxies named (none by default)
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )  # fmt: skip
    return uvicorn.Server(config), config.bind_socket()


def serve_api(settings: Settings, announce: Callable[[dict[str, str]], None]) -> None:
    """Run the API alone (MLflow elsewhere, at ``settings.mlflow_url``): the container entry point."""
    if port_in_use(settings.api_host, settings.api_port):
        raise ConfigError(
            f"port {settings.api_port} on {settings.api_host} is already in use; "
            f"set {env_name('api_port')} to a free port"
        )
    with stop_on_signals():
        app = prepare_app(settings)
        notice = first_start_notice(app)
        server, listening = make_server(settings, app)
        urls = {
            "api": settings.api_url,
            "docs": f"{settings.api_url}/docs",
            "mlflow": str(settings.mlflow_url),
            **notice,
        }
        announce(urls)
        server.run(sockets=[listening])


def run_stack(settings: Settings, announce: Callable[[dict[str, str]], None]) -> None:
    """Run MLflow and the API until a signal or a child's death; raises ``ChildDied`` on the latter."""
    ensure_ports_free(settings)
    with stop_on_signals():
        mlflow = Child(
            "mlflow",
            mlflow_server_command(settings),
            mlflow_server_env(settings),
            settings.data_dir / "logs" / "mlflow.log",
        )
        try:
            _serve_beside(settings, mlflow, announce)
        finally:
            mlflow.stop()


def _serve_beside(settings: Settings, mlflow: Child, announce: Callable[[dict[str, str]], None]) -> None:
    died = threading.Event()
    app = prepare_app(settings)  # while MLflow boots
    notice = first_start_notice(app)
    wait_for_health(f"{settings.mlflow_url}/health", mlflow, settings.startup_timeout_seconds)
    server, listening = make_server(settings, app)

    def watch() -> None:
        mlflow.process.wait()
        if not server.should_exit:
            died.set()
            server.should_exit = True

    threading.Thread(target=watch, name="watch-mlflow", daemon=True).start()
    announce({
        "api": settings.api_url,
        "docs": f"{settings.api_url}/docs",
        "mlflow": str(settings.mlflow_url),
        "mlflow_log": str(mlflow.log_path),
        **notice,
    })  # fmt: skip
    server.run(sockets=[listening])
    if died.is_set():
        raise ChildDied(
            f"mlflow exited with code {mlflow.process.returncode}; the API was stopped", details=mlflow.tail()
        )
