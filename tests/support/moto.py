"""A moto server on a free loopback port: the AWS endpoint for boto3, MLflow and terraform in tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.net import free_port, stop_process, wait_http

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class MotoServer:
    """``python -m moto.server`` (or a ``module`` wrapping it) in its own process; ``endpoint`` is its URL."""

    def __init__(self, extra_env: dict[str, str] | None = None, module: str = "moto.server") -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.mkdtemp(prefix="hokusai-moto-")) / "moto.log"
        env = {**os.environ, **FAKE_AWS_ENV, **(extra_env or {})}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def start(self, timeout: float = 60.0) -> MotoServer:
        wait_http(f"{self.endpoint}/moto-api/", timeout)
        return self

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()
