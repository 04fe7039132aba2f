"""Free loopback ports, waiting for HTTP endpoints, and stopping the servers tests start."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0, status: int = 200) -> float:
    """Poll ``url`` until it answers ``status``; returns seconds waited, raises TimeoutError."""
    started = time.monotonic()
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() - started < timeout:
            try:
                if client.get(url).status_code == status:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer {status} within {timeout:g}s")


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if ``process`` has not ended within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
