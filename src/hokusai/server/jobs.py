"""Job runners: where an evaluation run executes; everywhere the command is `hokusai worker run RUN_ID`.

``LocalRunner`` runs it as a child process (a bounded pool, so the API stays responsive), started ahead of
the run: each slot keeps one worker waiting (``hokusai worker standby``) that has already imported what a run
needs, and hands it the run id and token on its stdin (a fresh process per run all the same: no state
carries over from one run to the next);
``EcsRunner`` starts it as an ECS Fargate task of the same image; ``ContainerRunner`` as a container of the
same image through a Docker-compatible Engine API (the containerised stack). Each can tell whether a worker
is still alive, so runs orphaned by a dead process are marked failed instead of left running.

A local worker never outlives the API: it is started with the API's pid (``hokusai.lifeline``) and asks
for SIGKILL when the runner thread that started it dies, which is when the API process dies, even by
SIGKILL; it records nothing once its API is gone. Its output (JSON log lines, unbuffered) goes to
``<data dir>/logs/runs/<run id>.log``. Its MLflow client calls retry for about 30 s (``MLFLOW_HTTP_REQUEST_*``
defaults below), long enough to ride out a restart of the MLflow child by ``hokusai up`` (the check that
MLflow answers, when a run starts, does not wait).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import httpx
from sqlalchemy.exc import SQLAlchemyError

from hokusai import lifeline
from hokusai.config import Settings, settings_env
from hokusai.errors import ServiceUnavailable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

ExitCallback = Callable[[str, int], None]
log = logging.getLogger("hokusai.jobs")


def standby_command() -> list[str]:
    """A local worker started ahead of its run: it reads the run to execute from stdin."""
    return [sys.executable, "-m", "hokusai", "worker", "standby"]


def local_worker_id(pid: int | None = None) -> str:
    """``local:<host>:<pid>`` — recorded by a worker when it starts a run."""
    return f"local:{socket.gethostname()}:{pid or os.getpid()}"


TOKEN_ENV = "HOKUSAI_RUN_TOKEN"  # the worker's one-run token (it proves itself to the signer with it)
# Slot i starts its first standby worker after (i + 1) times this long without a run, not at once: the API's
# own start (and `hokusai up`'s) does not share the cores with the standbys' imports. A run that comes first
# starts its worker then (as without a standby).
STANDBY_DELAY_SECONDS = 10.0
# Never handed to a worker: it loads models and data, so it must not hold the signing key.
_WORKER_WITHHELD = ("HOKUSAI_SIGNER_KEY", "HOKUSAI_SIGNER_KEY_FILE")
# What a local worker's environment gets unless the operator set it: output straight to the run log, and
# MLflow retries (immediately, then after 2, 4, 8 and 16 s) that outlast a restart of the MLflow child.
WORKER_ENV_DEFAULTS = {
    "PYTHONUNBUFFERED": "1",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}
# A run container's name, in its environment: the worker records ``container:<name>`` as its identity.
WORKER_CONTAINER_ENV = "HOKUSAI_WORKER_CONTAINER"
RUN_LABEL = "org.hokusai.run"  # on each run container: the id of its run
# Set by the engine for each container, not copied from the API's: its own host name and home.
_CONTAINER_OWN = ("HOSTNAME", "HOME", lifeline.PARENT_ENV)
WORKER_ENV_DEFAULTS = {
    "PYTHONUNBUFFERED": "1",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


class JobRunner(Protocol):
    """Starts runs and answers whether a recorded worker still exists."""

    def submit(self, run_id: str, token: str) -> None: ...

    def is_alive(self, worker: str) -> bool: ...

    def shutdown(self) -> None: ...


class LocalRunner:
    """At most ``max_workers`` run processes at a time; ``on_exit(run_id, returncode)`` after each.

    Each slot (a thread) keeps one process of ``command`` started and waiting; a run is handed to it as one
    JSON line on its stdin, ``{"run_id", "token", "log"}`` (the token never in an environment or a command
    line), and the slot starts the next one as soon as the run ends. Waiting processes write to
    ``<log_dir>/standby.log`` until they are handed a run, then to its log."""

    def __init__(
        self,
        on_exit: ExitCallback,
        *,
        max_workers: int = 2,
        env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        command: Callable[[], list[str]] = standby_command,
        standby_delay: float | None = STANDBY_DELAY_SECONDS,  # None: a worker starts when its run comes
    ) -> None:
        self._on_exit, self._env, self._log_dir, self._command = on_exit, env, log_dir, command
        self._standby_delay = standby_delay
        self.stopping = False  # set by shutdown: workers that exit now were terminated by it
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(
                target=self._work,
                args=(None if standby_delay is None else standby_delay * (i + 1),),
                name=f"run-worker-{i}",
                daemon=True,
            )
            for i in range(max_workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, run_id: str, token: str) -> None:
        """Queue ``run_id``; it starts as soon as a worker slot is free, with ``token`` on its stdin."""
        self._queue.put((run_id, token))

    def _start(self) -> subprocess.Popen[bytes]:
        """A worker waiting for its run: started from this slot's long-lived thread, so the parent-death
        signal it asks for follows the API process (``hokusai.lifeline``)."""
        output = subprocess.DEVNULL
        if self._log_dir is not None:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            output = os.open(self._log_dir / "standby.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            env = self._env if self._env is not None else dict(os.environ)
            return subprocess.Popen(
                self._command(), env=lifeline.child_env(env), stdin=subprocess.PIPE, stdout=output,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        finally:
            if output != subprocess.DEVNULL:
                os.close(output)

    def _work(self, delay: float | None) -> None:
        ready: subprocess.Popen[bytes] | None = None
        while True:
            if ready is None and delay is not None:
                try:
                    item = self._queue.get(timeout=delay) if delay > 0 else self._queue.get_nowait()
                except queue.Empty:  # idle: get a worker ready for the next run (retry later if it fails)
                    try:
                        ready, delay = self._start(), 0
                    except OSError:
                        delay = max(self._standby_delay or 0.0, 1.0)
                    continue
            else:
                item = self._queue.get()
            if item is None:
                break
            delay = None if delay is None else 0
            run_id, token = item
            process, ready = ready, None
            log = None if self._log_dir is None else str(self._log_dir / f"{run_id}.log")
            job = json.dumps({"run_id": run_id, "token": token, "log": log}).encode() + b"\n"
            try:
                if process is None or process.poll() is not None:  # none ready, or it died waiting
                    process = self._start()
                with self._lock:
                    self._processes[run_id] = process
                assert process.stdin is not None
                with contextlib.suppress(BrokenPipeError):  # it died: its exit code says so
                    process.stdin.write(job)
                    process.stdin.close()
                code = process.wait()
            except OSError:
                code = -1
            finally:
                with self._lock:
                    self._processes.pop(run_id, None)
            self._on_exit(run_id, code)
        if ready is not None:  # shut down: the waiting worker reads no run and exits
            if ready.stdin is not None:
                with contextlib.suppress(OSError):
                    ready.stdin.close()
            try:
                ready.wait(5)
            except subprocess.TimeoutExpired:
                ready.kill()

    def is_alive(self, worker: str) -> bool:
        """Whether ``local:<host>:<pid>`` is a live process on this host."""
        kind, _, rest = worker.partition(":")
        host, _, pid = rest.rpartition(":")
        if kind != "local" or host != socket.gethostname() or not pid.isdigit():
            return False
        return Path(f"/proc/{pid}").exists()

    def shutdown(self) -> None:
        """Stop taking work and terminate running processes (the runs are marked failed by ``on_exit``)."""
        self.stopping = True
        for _ in self._threads:
            self._queue.put(None)
        with self._lock:
            running = list(self._processes.values())
        for process in running:
            process.terminate()
        for thread in self._threads:
            thread.join(timeout=15)


class EcsRunner:
    """Runs each evaluation as an ECS Fargate task of the API's image."""

    def __init__(
        self,
        *,
        cluster: str,
        task_definition: str,
        subnets: Sequence[str],
        security_groups: Sequence[str],
        container: str = "api",
        client: Any = None,
    ) -> None:
        import boto3

        self.cluster, self.task_definition, self.container = cluster, task_definition, container
        self.network = {
            "awsvpcConfiguration": {
                "subnets": list(subnets),
                "securityGroups": list(security_groups),
                "assignPublicIp": "DISABLED",
            }
        }  # fmt: skip
        self._ecs = client or boto3.client("ecs")

    def submit(self, run_id: str, token: str) -> None:
        """``RunTask`` with the worker command as the container's command and its token in the environment."""
        command = ["hokusai", "worker", "run", run_id]
        override = {
            "name": self.container,
            "command": command,
            "environment": [{"name": TOKEN_ENV, "value": token}],
        }
        try:
            answer = self._ecs.run_task(
                cluster=self.cluster, taskDefinition=self.task_definition, launchType="FARGATE", count=1,
                networkConfiguration=self.network, startedBy=f"hokusai-run-{run_id}"[:36],
                overrides={"containerOverrides": [override]},
            )  # fmt: skip
        except Exception as exc:  # botocore: throttling, bad config, missing cluster
            raise ServiceUnavailable(f"could not start an ECS task for run {run_id}: {exc}") from None
        if answer.get("failures") or not answer.get("tasks"):
            raise ServiceUnavailable(f"ECS refused the task for run {run_id}: {answer.get('failures')}")

    def is_alive(self, worker: str) -> bool:
        """Whether ``ecs:<task arn>`` has not stopped."""
        kind, _, arn = worker.partition(":")
        if kind != "ecs" or not arn:
            return False
        tasks = self._ecs.describe_tasks(cluster=self.cluster, tasks=[arn]).get("tasks", [])
        return bool(tasks) and tasks[0].get("lastStatus") != "STOPPED"

    def shutdown(self) -> None:
        """Nothing to stop: ECS tasks outlive the API process by design."""


class _WorkerPool:
    """At most ``max_workers`` runs at a time, each executed by ``_execute`` on a long-lived thread of the
    pool; ``on_exit(run_id, returncode)`` after each."""

    def __init__(self, on_exit: ExitCallback, *, max_workers: int, log_dir: Path | None) -> None:
        self._on_exit, self._log_dir = on_exit, log_dir
        self.stopping = False  # set by shutdown: workers that exit now were terminated by it
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, name=f"run-worker-{i}", daemon=True)
            for i in range(max_workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, run_id: str, token: str) -> None:
        """Queue ``run_id``; it starts as soon as a worker slot is free, with ``token`` in its environment."""
        self._queue.put((run_id, token))

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            run_id, token = item
            output = None
            if self._log_dir is not None:
                self._log_dir.mkdir(parents=True, exist_ok=True)
                output = (self._log_dir / f"{run_id}.log").open("ab")
            try:
                code = self._execute(run_id, token, output)
            finally:
                if output is not None:
                    output.close()
            self._on_exit(run_id, code)

    def _execute(self, run_id: str, token: str, output: BinaryIO | None) -> int:
        """Run the worker of ``run_id`` to its end, its output to ``output``; its exit code (-1: not run)."""
        raise NotImplementedError

    def _stop_threads(self) -> None:
        self.stopping = True
        for _ in self._threads:
            self._queue.put(None)


class ContainerRunner(_WorkerPool):
    """Runs each evaluation as a one-off container of the API's image, the way ``EcsRunner`` runs a Fargate
    task: through a Docker-compatible Engine API on a unix socket (Docker's, or podman's ``podman system
    service``), with the worker command, the API's environment (``env``: never the signing key) plus the run's
    token, on ``network``, with a read-only root and a ``/tmp`` tmpfs. The container outlives the API (as a
    task does): it records its own result, and a restarted API finds it alive by its name. At most
    ``max_workers`` run at a time; the pool thread waits for each, copies its output to the run log and
    removes it."""

    API_VERSION = "v1.41"  # the Docker Engine API version podman's compatibility layer answers

    def __init__(
        self,
        on_exit: ExitCallback,
        *,
        socket_path: str,
        image: str,
        network: str | None = None,
        env: dict[str, str] | None = None,
        max_workers: int = 2,
        log_dir: Path | None = None,
        command: Callable[[str], list[str]] = lambda run_id: ["hokusai", "worker", "run", run_id],
    ) -> None:
        self.image, self.network, self._env, self._command = image, network, dict(env or {}), command
        self._http = httpx.Client(
            transport=httpx.HTTPTransport(uds=socket_path),
            base_url=f"http://engine/{self.API_VERSION}",
            timeout=httpx.Timeout(30.0, read=None),  # /wait blocks until the run's container exits
        )
        self._remove_exited()
        super().__init__(on_exit, max_workers=max_workers, log_dir=log_dir)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One Engine API call; an engine that cannot be reached or refuses is ``ServiceUnavailable``."""
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"the container engine is not reachable: {exc}") from None
        if answer.status_code >= 400 and answer.status_code != 404:
            raise ServiceUnavailable(f"the container engine refused {method} {path}: {answer.text[:500]}")
        return answer

    def _execute(self, run_id: str, token: str, output: BinaryIO | None) -> int:
        name = f"hokusai-run-{run_id}-{secrets.token_hex(3)}"
        env = {**self._env, TOKEN_ENV: token, WORKER_CONTAINER_ENV: name}
        spec = {
            "Image": self.image,
            "Cmd": self._command(run_id),
            "Env": [f"{key}={value}" for key, value in env.items()],
            "Labels": {RUN_LABEL: run_id},
            "HostConfig": {
                "NetworkMode": self.network or "bridge",
                "ReadonlyRootfs": True,  # as on Fargate: only /tmp is writable
                "Tmpfs": {"/tmp": "rw,mode=1777"},
            },
        }
        code = -1
        try:
            created = self._call("POST", "/containers/create", params={"name": name}, json=spec)
            if created.status_code == 404:
                raise ServiceUnavailable(f"the run image {self.image} is not in the container engine")
            self._call("POST", f"/containers/{name}/start")
            code = int(self._call("POST", f"/containers/{name}/wait").json().get("StatusCode", -1))
            logs = self._call("GET", f"/containers/{name}/logs", params={"stdout": 1, "stderr": 1})
            if output is not None:
                output.write(_demultiplex(logs.content))
        except (ServiceUnavailable, ValueError) as exc:  # ValueError: an answer that is not JSON
            log.warning("run %s: its container failed to run: %s", run_id, exc)
            if output is not None:
                output.write(f"run {run_id}: its container failed to run: {exc}\n".encode())
        self._remove(name)
        return code

    def _remove(self, name: str) -> None:
        try:
            self._call("DELETE", f"/containers/{name}", params={"force": 1, "v": 1})
        except ServiceUnavailable as exc:
            log.warning("could not remove the run container %s: %s", name, exc.message)

    def _remove_exited(self) -> None:
        """Remove run containers that ended while no API waited for them (it restarted meanwhile)."""
        try:
            listed = self._call("GET", "/containers/json", params={
                "all": 1, "filters": json.dumps({"label": [RUN_LABEL], "status": ["exited"]}),
            }).json()  # fmt: skip
        except (ServiceUnavailable, ValueError) as exc:
            log.warning("could not list finished run containers: %s", exc)
            return
        for container in listed:
            self._remove(container["Id"])

    def is_alive(self, worker: str) -> bool:
        """Whether ``container:<name>`` has not stopped (an engine that cannot tell: alive, not failed)."""
        kind, _, name = worker.partition(":")
        if kind != "container" or not name:
            return False
        try:
            answer = self._call("GET", f"/containers/{name}/json")
        except ServiceUnavailable as exc:
            log.warning("could not ask the container engine about %s: %s", name, exc.message)
            return True
        return answer.status_code == 200 and answer.json()["State"].get("Status") in ("created", "running")

    def shutdown(self) -> None:
        """Stop taking work; running containers go on (they record their own result, like ECS tasks)."""
        self._stop_threads()


def _demultiplex(stream: bytes) -> bytes:
    """The payload of a Docker log stream (8-byte frame headers: stream, 3 zero bytes, big-endian size)."""
    out, at = bytearray(), 0
    while at + 8 <= len(stream):
        size = int.from_bytes(stream[at + 4 : at + 8], "big")
        out += stream[at + 8 : at + 8 + size]
        at += 8 + size
    return bytes(out)


def make_runner(settings: Settings, on_exit: ExitCallback) -> JobRunner:
    """The runner the settings ask for; local workers and run containers get the API's settings in their
    environment, except the signing key (``_WORKER_WITHHELD``)."""
    if settings.job_runner == "ecs":
        return EcsRunner(
            cluster=str(settings.ecs_cluster),
            task_definition=str(settings.ecs_task_definition),
            subnets=[s for s in settings.ecs_subnets.split(",") if s],
            security_groups=[s for s in settings.ecs_security_groups.split(",") if s],
            container=settings.ecs_container,
        )
    env = {k: v for k, v in {**os.environ, **settings_env(settings)}.items() if k not in _WORKER_WITHHELD}
    env = {**WORKER_ENV_DEFAULTS, **env}
    log_dir = settings.data_dir / "logs" / "runs"
    if settings.job_runner == "container":
        return ContainerRunner(
            on_exit, socket_path=settings.container_engine_socket, image=str(settings.container_image),
            network=settings.container_network, max_workers=settings.job_workers, log_dir=log_dir,
            env={k: v for k, v in env.items() if k not in _CONTAINER_OWN},
        )  # fmt: skip
    return LocalRunner(
        on_exit, max_workers=settings.job_workers, env=env, log_dir=log_dir,
        standby_delay=STANDBY_DELAY_SECONDS if settings.job_standby else None,
    )  # fmt: skip


def start_runner(settings: Settings, sessions: sessionmaker[Session]) -> JobRunner:
    """The app's runner, after failing runs orphaned by a dead worker and re-queuing waiting ones.

    It takes the settings and the session factory, not the app's state: the state holds the runner, so
    this module must not import it (imports point one way; tests/unit/test_architecture.py checks it)."""
    from hokusai.server.services import runs

    def on_exit(run_id: str, code: int) -> None:
        with sessions() as session:
            if code != 0 and getattr(runner, "stopping", False):
                runs.fail(
                    session, run_id, "platform_stopped",
                    "the platform stopped while this run was running (its worker was terminated); "
                    "submit it again",
                )  # fmt: skip
            else:
                runs.worker_exited(session, run_id, code)
            session.commit()

    runner = make_runner(settings, on_exit)
    try:
        with sessions() as session:
            orphaned = runs.recover_orphans(session, runner.is_alive)
            waiting = runs.queued_runs(session)
            session.commit()
    except SQLAlchemyError as exc:  # the API still starts; /ready reports the database
        log.warning("could not check for orphaned runs: %s", type(exc).__name__)
        return runner
    if orphaned:
        log.warning("runs left running by a dead worker were marked failed", extra={"runs": orphaned})
    for run_id in waiting:
        with sessions() as session:
            token = runs.issue_worker_token(session, run_id)
            session.commit()
        runner.submit(run_id, token)
    return runner
