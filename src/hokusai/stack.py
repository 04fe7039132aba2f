"""``hokusai up``: run the MLflow tracking server as a supervised child and the API in the foreground.

Order: check both ports are free, spawn MLflow, apply the platform's migrations and build the app
while MLflow boots, wait for MLflow's /health, then serve the API. Ctrl-C / SIGTERM stops both cleanly.

If MLflow dies, a ``Supervisor`` restarts it (back-off from ``HOKUSAI_MLFLOW_RESTART_BACKOFF_SECONDS``,
doubling; at most ``HOKUSAI_MLFLOW_MAX_RESTARTS_PER_MINUTE`` restarts in any minute), logging each restart
with MLflow's last lines, while the API keeps answering (``/ready`` is 503 naming MLflow meanwhile). Past the
limit it gives up: the API stops and ``up`` exits 1 with MLflow's last lines. Children never outlive ``up``,
even when it is killed with SIGKILL: MLflow starts through ``hokusai.lifeline`` (parent-death signal).
"""

from __future__ import annotations

import contextlib
import logging
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

from hokusai import lifeline
from hokusai.config import Settings, env_name
from hokusai.errors import ConfigError, HokusaiError, ServiceUnavailable

if TYPE_CHECKING:  # heavy imports stay out of the CLI's start-up; loaded while MLflow boots
    import uvicorn
    from fastapi import FastAPI

LOG_TAIL_LINES = 25
RESTART_WINDOW_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
log = logging.getLogger("hokusai.stack")
Warn = Callable[[str, list[str]], None]


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
    """A child process in its own process group, output appended to a log file; it gets SIGTERM when the
    thread that started it dies (``hokusai.lifeline``), so it never outlives its parent."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self._log_start = self._log.tell()
        self.process = subprocess.Popen(
            lifeline.guarded(command), env=lifeline.child_env(env), stdout=self._log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
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


class Supervisor:
    """Keeps one child running: when it dies, waits (back-off), logs its last lines and starts it again, at
    most ``limit`` times in any minute; past that it gives up and calls ``on_give_up``.

    ``start`` builds a new ``Child``; the first one is started by the caller's thread, the restarts by the
    supervisor's own thread (which lives as long as they do: the parent-death signal follows the thread)."""

    def __init__(
        self,
        start: Callable[[], Child],
        *,
        limit: int,
        backoff: float,
        on_give_up: Callable[[], None],
        warn: Warn | None = None,
    ) -> None:
        self._start, self.limit, self.backoff = start, limit, backoff
        self._on_give_up, self._warn = on_give_up, warn
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.restarts: list[float] = []  # monotonic times of the restarts in the last minute
        self.gave_up = False
        self.child = start()
        self._thread: threading.Thread | None = None

    def watch(self) -> None:
        """Start supervising in a background thread."""
        self._thread = threading.Thread(target=self._run, name=f"supervise-{self.child.name}", daemon=True)
        self._thread.start()

    def delay(self) -> float:
        """Seconds to wait before the next restart: the back-off doubled per restart in the last minute."""
        return min(self.backoff * 2 ** len(self.restarts), max(self.backoff, MAX_BACKOFF_SECONDS))

    def _run(self) -> None:
        while True:
            child = self.child
            code = child.process.wait()
            if self._stopping.is_set():
                return
            lines = child.tail()
            child.stop()  # the rest of its process group, and its log handle
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_SECONDS]
            if len(self.restarts) >= self.limit:
                self.gave_up = True
                self._report(
                    f"{child.name} exited with code {code} after {len(self.restarts)} restart(s) in the last "
                    f"minute (limit {self.limit}); giving up",
                    lines,
                )
                self._on_give_up()
                return
            delay = self.delay()
            self._report(
                f"{child.name} exited with code {code}; restarting it in {delay:g} s "
                f"(restart {len(self.restarts) + 1} of at most {self.limit} a minute)",
                lines,
            )
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.restarts.append(time.monotonic())
                self.child = self._start()
            log.info("%s restarted (pid %s)", child.name, self.child.process.pid)

    def _report(self, message: str, lines: list[str]) -> None:
        if self._warn is not None:
            self._warn(message, lines)
        else:
            log.warning(message, extra={"last_lines": lines})

    def stop(self) -> None:
        """Stop supervising and stop the current child."""
        with self._lock:
            self._stopping.set()
            child = self.child
        child.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=15)


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
    from sqlalchemy.exc import IntegrityError

    from hokusai.server.services.keys import ensure_bootstrap_admin

    state = app.state.hokusai
    with state.sessions() as session:
        key = ensure_bootstrap_admin(session, state.settings)
        try:
            session.commit()
        except IntegrityError:  # another replica bootstrapped the same database at the same moment
            return {}
    if key:
        log.info("bootstrap admin key stored")
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


def run_stack(
    settings: Settings, announce: Callable[[dict[str, str]], None], warn: Warn | None = None
) -> None:
    """Run MLflow (supervised) and the API until a signal, or until MLflow keeps dying: then ``ChildDied``.
    ``warn(message, last_lines)`` is told of each restart."""
    ensure_ports_free(settings)
    with stop_on_signals():
        server: list[uvicorn.Server] = []

        def give_up() -> None:
            if server:
                server[0].should_exit = True

        supervisor = Supervisor(
            lambda: Child(
                "mlflow",
                mlflow_server_command(settings),
                mlflow_server_env(settings),
                settings.data_dir / "logs" / "mlflow.log",
            ),
            limit=settings.mlflow_max_restarts_per_minute,
            backoff=settings.mlflow_restart_backoff_seconds,
            on_give_up=give_up,
            warn=warn,
        )
        try:
            _serve_beside(settings, supervisor, server, announce)
        finally:
            supervisor.stop()


def _serve_beside(
    settings: Settings,
    supervisor: Supervisor,
    server_slot: list[uvicorn.Server],
    announce: Callable[[dict[str, str]], None],
) -> None:
    app = prepare_app(settings)  # while MLflow boots
    notice = first_start_notice(app)
    wait_for_health(f"{settings.mlflow_url}/health", supervisor.child, settings.startup_timeout_seconds)
    server, listening = make_server(settings, app)
    server_slot.append(server)
    supervisor.watch()
    announce({
        "api": settings.api_url,
        "docs": f"{settings.api_url}/docs",
        "mlflow": str(settings.mlflow_url),
        "mlflow_log": str(supervisor.child.log_path),
        **notice,
    })  # fmt: skip
    server.run(sockets=[listening])
    if supervisor.gave_up:
        child = supervisor.child
        raise ChildDied(
            f"{child.name} exited with code {child.process.returncode} and was restarted "
            f"{len(supervisor.restarts)} time(s) in the last minute; gave up and stopped the API "
            f"(limit: {env_name('mlflow_max_restarts_per_minute')}={supervisor.limit})",
            details=child.tail(),
        )
