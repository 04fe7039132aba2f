"""``hokusai up`` as a real subprocess, the way a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.net import wait_http


class UpProcess:
    """Runs ``hokusai up`` (or ``serve``) with ``env`` added to the environment; output kept in files."""

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
                env={**os.environ, **env},
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds until ``/ready`` answers 200."""
        return wait_http(f"{self.api_url}/ready", timeout)

    def mlflow_pid(self) -> int:
        """The MLflow child's pid (the leader of its process group)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return int(children[0])

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
