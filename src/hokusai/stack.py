"""``hokusai up``: the MLflow tracking server and the API as two supervised children of one small process.

Order: check both ports are free, start MLflow and the API child together (the API child applies the
platform's migrations and builds the app while MLflow boots, waits for MLflow's /health, binds the API port
and serves), wait for both, print the ready banner. Ctrl-C / SIGTERM stops both cleanly.

Each child has a ``Supervisor``: when it dies it is restarted after a back-off, doubling
(``HOKUSAI_MLFLOW_RESTART_BACKOFF_SECONDS``, ``HOKUSAI_API_RESTART_BACKOFF_SECONDS``), at most
``HOKUSAI_MLFLOW_MAX_RESTARTS_PER_MINUTE`` / ``HOKUSAI_API_MAX_RESTARTS_PER_MINUTE`` times in any minute,
each restart logged with the child's last lines, while the other child keeps running: a dead MLflow leaves
the API answering (``/ready`` 503 naming MLflow); a dead API (a segfault, whatever its cause) leaves MLflow
and the supervisor running, and its run workers die with it (the next API fails their runs,
``worker_died``). Past the limit ``up`` gives up: it stops the other child and exits 1 with the dead child's
last lines.

The supervisor never imports the app: the API child (``python -m hokusai.stack``) builds it once, binds the
API port itself, and tells the supervisor it serves, with the first start's admin key, over a pipe (never a
log file). Its output goes to ``<data dir>/logs/api.log`` and to ``up``'s stderr. Children never outlive
``up``, even when it is killed with SIGKILL: both start through ``hokusai.lifeline`` (parent-death signal:
SIGTERM for MLflow, SIGKILL for the API); ``up`` adopts and reaps the orphans of a child that died.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
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
from typing import IO, TYPE_CHECKING, Any

import httpx

from hokusai import lifeline
from hokusai.config import Settings, env_name, settings_env
from hokusai.errors import ConfigError, HokusaiError, ServiceUnavailable

if TYPE_CHECKING:  # heavy imports stay out of the CLI's start-up; loaded while MLflow boots
    import uvicorn
    from fastapi import FastAPI

LOG_TAIL_LINES = 25
RESTART_WINDOW_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
LABELS = {"mlflow": "MLflow", "api": "the API"}
NOTICE_ENV = "HOKUSAI_API_NOTICE_FD"  # the API child's end of its notice pipe
log = logging.getLogger("hokusai.stack")
Warn = Callable[[str, list[str]], None]
# pids of the running ``Child`` processes: reaped by their ``Popen``, never by ``reap_adopted``
_managed: set[int] = set()
_managed_lock = threading.Lock()


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
    """A child process in its own process group, output appended to a log file (and copied to this process's
    stderr with ``echo``); it gets ``death_signal`` when the thread that started it dies
    (``hokusai.lifeline``), so it never outlives its parent. ``term_group``: stop it by signalling its whole
    group, else its leader only (which stops its own children: the API records the runs it stops)."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        death_signal: int = signal.SIGTERM,
        echo: bool = False,
        term_group: bool = True,
        stop_timeout: float = 10.0,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.name, self.log_path, self.term_group, self.stop_timeout = (
            name,
            log_path,
            term_group,
            stop_timeout,
        )
        self.notice: int | None = None  # the read end of the API child's notice pipe
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self._log_start = self._log.tell()
        with _managed_lock:
            self.process = subprocess.Popen(
                lifeline.guarded(command, death_signal), env=lifeline.child_env(env),
                stdout=subprocess.PIPE if echo else self._log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, pass_fds=pass_fds,
            )  # fmt: skip
            _managed.add(self.process.pid)
        self._copier: threading.Thread | None = None
        if echo:
            self._copier = threading.Thread(target=self._copy, name=f"echo-{name}", daemon=True)
            self._copier.start()

    def _copy(self) -> None:
        """Each line the child writes, to its log file and to this process's stderr."""
        assert self.process.stdout is not None
        with contextlib.suppress(OSError, ValueError):
            for line in self.process.stdout:
                self._log.write(line)
                self._log.flush()
                with contextlib.suppress(OSError):
                    os.write(2, line)

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code, once it has exited and its output is in its log."""
        code = self.process.wait(timeout)
        if self._copier is not None:
            self._copier.join(5)
        return code

    def tail(self, lines: int = LOG_TAIL_LINES) -> list[str]:
        """The last ``lines`` lines this child wrote in this run."""
        with self.log_path.open("rb") as handle:
            handle.seek(self._log_start)
            last = deque(handle, maxlen=lines)
        return [line.decode("utf-8", "replace").rstrip() for line in last]

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, then SIGKILL to whatever is left of its group after ``timeout`` seconds (default: its
        ``stop_timeout``)."""
        timeout = self.stop_timeout if timeout is None else timeout
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                if self.term_group:
                    os.killpg(self.process.pid, signal.SIGTERM)
                else:
                    self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        # the rest of its group (MLflow's uvicorn, the API's run workers), also when the leader died alone
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.wait()
        with _managed_lock:
            _managed.discard(self.process.pid)
        self._log.close()


def adopted_children() -> set[int]:
    """This process's children that no ``Child`` manages: orphans it adopted (``become_subreaper``)."""
    pids: set[int] = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            with contextlib.suppress(OSError):
                pids.update(int(pid) for pid in (task / "children").read_text().split())
    return pids - _managed


def reap_adopted(timeout: float = 5.0) -> None:
    """Reap the orphans this process adopted (the run workers of a dead API child, killed with its group),
    waiting up to ``timeout`` seconds for them to exit: a zombie would pass for a live worker."""
    deadline = time.monotonic() + timeout
    while True:
        with _managed_lock:
            adopted = adopted_children()
            for pid in list(adopted):
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        adopted.discard(pid)
        if not adopted or time.monotonic() > deadline:
            return
        time.sleep(0.05)


class Supervisor:
    """Keeps one child running: when it dies, waits (back-off), logs its last lines and starts it again, at
    most ``limit`` times in any minute; past that it gives up and calls ``on_give_up``.

    ``start`` builds a new ``Child``; the first one is started by the caller's thread, the restarts by the
    supervisor's own thread (which lives as long as they do: the parent-death signal follows the thread),
    which then calls ``on_restart(child)``."""

    def __init__(
        self,
        start: Callable[[], Child],
        *,
        limit: int,
        backoff: float,
        on_give_up: Callable[[], None],
        warn: Warn | None = None,
        on_restart: Callable[[Child], None] | None = None,
    ) -> None:
        self._start, self.limit, self.backoff = start, limit, backoff
        self._on_give_up, self._warn, self._on_restart = on_give_up, warn, on_restart
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
            code = child.wait()
            if self._stopping.is_set():
                return
            lines = child.tail()
            child.stop()  # the rest of its process group, and its log handle
            reap_adopted()  # its orphans, before a new child counts them as live workers
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
            if self._on_restart is not None:
                self._on_restart(self.child)

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


def make_server(
    settings: Settings, app: FastAPI, on_started: Callable[[], None] | None = None
) -> tuple[uvicorn.Server, socket.socket]:
    """A uvicorn server for ``app`` and its bound socket (bound before URLs are printed: no race);
    ``on_started()`` once it accepts connections and the app's start-up has run."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started and on_started is not None:
                on_started()

    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_config=None,
        access_log=False, lifespan="on", timeout_graceful_shutdown=10,
        # a client's own X-Forwarded-For is believed only from the proxies named (none by default)
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )  # fmt: skip
    return Server(config), config.bind_socket()


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


# --- the API as a child of `hokusai up` -------------------------------------------------------------------


def start_api(settings: Settings) -> Child:
    """Start the API child (``python -m hokusai.stack``) with ``settings`` in its environment and a pipe
    for its notice (``read_notice``); it dies with the thread that starts it (SIGKILL), and its run workers
    with it."""
    read_end, write_end = os.pipe()
    try:
        env = {**os.environ, **settings_env(settings), NOTICE_ENV: str(write_end), "PYTHONUNBUFFERED": "1"}
        child = Child(
            "api", [sys.executable, "-m", "hokusai.stack"], env, settings.data_dir / "logs" / "api.log",
            death_signal=signal.SIGKILL, echo=True, term_group=False, pass_fds=(write_end,),
            stop_timeout=30.0,  # uvicorn's graceful 10 s, then the runs it stops are recorded
        )  # fmt: skip
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    child.notice = read_end
    return child


def read_notice(child: Child, timeout: float) -> dict[str, Any]:
    """The API child's one notice: ``{"serving": true}`` (with ``admin_key`` on a first start) once it
    serves, or ``{"error", "code", "exit_code"}`` when it could not start. ``ChildDied`` if it exits without
    one, ``ServiceUnavailable`` after ``timeout`` seconds."""
    if child.notice is None:
        raise ValueError(f"{child.name} has no notice pipe")
    fd, data = child.notice, b""
    deadline = time.monotonic() + timeout
    try:
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServiceUnavailable(
                    f"{child.name} did not serve within {timeout:g}s", details=child.tail()
                )
            if select.select([fd], [], [], remaining)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:  # it closed the pipe without a word: it exited
                    code = child.wait(timeout=10)
                    raise ChildDied(
                        f"{child.name} exited with code {code} while starting", details=child.tail()
                    )
                data += chunk
    finally:
        os.close(fd)
        child.notice = None
    notice: dict[str, Any] = json.loads(data)
    return notice


def _tell(pipe: IO[str], notice: dict[str, Any]) -> None:
    if not pipe.closed:
        with pipe:
            pipe.write(json.dumps(notice) + "\n")


def wait_for_mlflow(settings: Settings) -> None:
    """Poll MLflow's /health until it answers, for at most the start-up timeout: the app's start re-queues
    waiting runs, which fail at once without MLflow. Past the timeout the API serves anyway (``/ready``
    says MLflow is down)."""
    deadline = time.monotonic() + settings.startup_timeout_seconds
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{settings.mlflow_url}/health").status_code == 200:
                    return
            time.sleep(0.05)
    log.warning("MLflow did not answer within %gs; serving without it", settings.startup_timeout_seconds)


def serve_child() -> None:
    """The API child's process (``python -m hokusai.stack``): migrate and build the app (once, while MLflow
    boots), make sure an admin can get in, wait for MLflow, bind the API port, serve; the notice pipe says
    when it serves (with a first start's admin key) or why it could not start."""
    from hokusai.config import load_settings
    from hokusai.log import configure_logging

    pipe = os.fdopen(int(os.environ.pop(NOTICE_ENV)), "w")
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        with stop_on_signals():
            app = prepare_app(settings)
            admin = first_start_notice(app)
            wait_for_mlflow(settings)
            server, listening = make_server(settings, app, lambda: _tell(pipe, {"serving": True, **admin}))
            server.run(sockets=[listening])
    except HokusaiError as exc:
        if pipe.closed:  # it served: nobody reads the pipe now
            print(f"error: {exc.message}", file=sys.stderr)
        _tell(pipe, {"error": exc.message, "code": exc.code, "exit_code": exc.exit_code})
        raise SystemExit(exc.exit_code) from None


def child_failed(notice: dict[str, Any]) -> HokusaiError:
    """The error an API child reported on its notice pipe, with its exit code (2: the user's to fix)."""
    error = HokusaiError(str(notice["error"]), code=str(notice.get("code") or "api_failed"))
    error.exit_code = int(notice.get("exit_code") or 1)
    return error


# --- the supervisor ----------------------------------------------------------------------------------------


def run_stack(
    settings: Settings, announce: Callable[[dict[str, str]], None], warn: Warn | None = None
) -> None:
    """Run MLflow and the API as supervised children until a signal, or until one keeps dying: then
    ``ChildDied`` with its last lines. ``warn(message, last_lines)`` is told of each restart; ``announce``
    gets the URLs once both serve (and again if a restarted API created an admin key)."""
    ensure_ports_free(settings)
    lifeline.become_subreaper()
    gave_up = threading.Event()
    urls = {
        "api": settings.api_url,
        "docs": f"{settings.api_url}/docs",
        "mlflow": str(settings.mlflow_url),
        "mlflow_log": str(settings.data_dir / "logs" / "mlflow.log"),
        "api_log": str(settings.data_dir / "logs" / "api.log"),
    }

    def api_restarted(child: Child) -> None:
        try:
            notice = read_notice(child, settings.startup_timeout_seconds)
        except HokusaiError as exc:  # it died again or hangs: its supervisor deals with it
            log.warning("the restarted API did not serve: %s", exc.message)
            return
        if "error" in notice:
            log.warning("the restarted API could not start: %s", notice["error"])
        elif "admin_key" in notice:
            announce({**urls, "admin_key": str(notice["admin_key"])})

    with stop_on_signals():
        supervisors: dict[str, Supervisor] = {}
        try:
            supervisors["mlflow"] = Supervisor(
                lambda: Child(
                    "mlflow", mlflow_server_command(settings), mlflow_server_env(settings),
                    Path(urls["mlflow_log"]),
                ),
                limit=settings.mlflow_max_restarts_per_minute,
                backoff=settings.mlflow_restart_backoff_seconds, on_give_up=gave_up.set, warn=warn,
            )  # fmt: skip
            supervisors["api"] = Supervisor(
                lambda: start_api(settings),
                limit=settings.api_max_restarts_per_minute, backoff=settings.api_restart_backoff_seconds,
                on_give_up=gave_up.set, warn=warn, on_restart=api_restarted,
            )  # fmt: skip
            mlflow, api = supervisors["mlflow"], supervisors["api"]
            wait_for_health(f"{settings.mlflow_url}/health", mlflow.child, settings.startup_timeout_seconds)
            mlflow.watch()
            notice = read_notice(api.child, settings.startup_timeout_seconds)
            if "error" in notice:
                raise child_failed(notice)
            api.watch()
            announce({**urls, **{k: str(v) for k, v in notice.items() if k == "admin_key"}})
            while not gave_up.wait(0.5):
                pass
            _report_give_up(supervisors)
        finally:
            for supervisor in reversed(supervisors.values()):  # the API first: its runs end before MLflow
                supervisor.stop()


def _report_give_up(supervisors: dict[str, Supervisor]) -> None:
    for name, supervisor in supervisors.items():
        if supervisor.gave_up:
            child = supervisor.child
            others = " and ".join(LABELS[other] for other in supervisors if other != name)
            raise ChildDied(
                f"{child.name} exited with code {child.process.returncode} and was restarted "
                f"{len(supervisor.restarts)} time(s) in the last minute; gave up and stopped {others} "
                f"(limit: {env_name(f'{name}_max_restarts_per_minute')}={supervisor.limit})",
                details=child.tail(),
            )


if __name__ == "__main__":
    serve_child()
