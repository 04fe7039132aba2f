"""``hokusai up`` as a real subprocess, the way a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hokusai.config import Settings, env_name
from tests.support.net import free_port, wait_http

LISTEN = "0A"  # TCP state in /proc/net/tcp
SETTINGS_ENV = frozenset(env_name(field) for field in Settings.model_fields)
"""The environment variables that configure the platform (``HOKUSAI_<FIELD>``)."""


def up_env(workdir: Path, **settings: str) -> dict[str, str]:
    """A test's ``hokusai up`` configuration: its state in ``workdir/state``, free API and MLflow ports, then
    ``settings`` (``HOKUSAI_`` names; an empty value is left out, so the default applies)."""
    unknown = set(settings) - SETTINGS_ENV
    assert not unknown, f"not platform settings: {sorted(unknown)}"
    env = {
        "HOKUSAI_DATA_DIR": str(workdir / "state"),
        "HOKUSAI_API_PORT": str(free_port()),
        "HOKUSAI_MLFLOW_PORT": str(free_port()),
        **settings,
    }
    return {name: value for name, value in env.items() if value}


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (all its threads')."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        for child in children(frontier.pop()):
            found.append(child)
            frontier.append(child)
    return found


def listener_pid(port: int, candidates: list[int]) -> int | None:
    """Which of ``candidates`` holds the socket listening on TCP ``port`` (IPv4 or IPv6), if any."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in candidates:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    return None


class UpProcess:
    """Runs ``hokusai up`` (or ``serve``) configured by ``env`` alone: the platform settings of the shell
    that runs the tests (``HOKUSAI_DATABASE_URL``, ``HOKUSAI_SIGNER_KEY``, ...) are not inherited. Output
    kept in files."""

    def __init__(
        self, workdir: Path, env: dict[str, str], args: tuple[str, ...] = (), command: str = "up"
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = workdir / "up.out", workdir / "up.err"
        self.api_url = f"http://127.0.0.1:{env['HOKUSAI_API_PORT']}"
        hokusai = Path(sys.executable).with_name("hokusai")
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = subprocess.Popen(
                [str(hokusai), command, *args],
                cwd=workdir,
                # no run worker started ahead unless a test asks (each holds ~360 MB and imports for seconds)
                env={
                    **{name: value for name, value in os.environ.items() if name not in SETTINGS_ENV},
                    "HOKUSAI_JOB_STANDBY": "false",
                    **env,
                },
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds until ``/ready`` answers 200."""
        return wait_http(f"{self.api_url}/ready", timeout)

    def mlflow_pid(self) -> int:
        """The MLflow child's pid (the leader of its process group)."""
        (pid,) = [pid for pid in children(self.process.pid) if b" mlflow server " in cmdline(pid) + b" "]
        return pid

    def api_pid(self) -> int | None:
        """The pid of the process that listens on the API port (``up`` or one of its descendants)."""
        return listener_pid(
            int(self.api_url.rsplit(":", 1)[1]), [self.process.pid, *descendants(self.process.pid)]
        )

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
