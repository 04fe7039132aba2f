"""Startup: `hokusai up` launch -> /ready 200, divided by bare `mlflow server --workers 1` -> /health 200.

Both on a fresh SQLite backend store (same kind), interleaved, 3 repetitions each, in one run.
Usage: python benchmarks/startup.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import median, print_ratio

from tests.support.net import free_port, wait_http
from tests.support.stack import UpProcess


def time_hokusai_up(workdir: Path) -> float:
    env = {
        "HOKUSAI_DATA_DIR": str(workdir / "state"),
        "HOKUSAI_API_PORT": str(free_port()),
        "HOKUSAI_MLFLOW_PORT": str(free_port()),
    }
    started = time.monotonic()
    up = UpProcess(workdir, env)
    try:
        wait_http(f"{up.api_url}/ready", 120)
        return time.monotonic() - started
    finally:
        up.kill()


def time_bare_mlflow(workdir: Path) -> float:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{workdir / 'mlflow.db'}",
    ]
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 120)
        return time.monotonic() - started
    finally:
        import os
        import signal

        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours: list[float] = []
    bare: list[float] = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            bare.append(time_bare_mlflow(Path(a)))
            ours.append(time_hokusai_up(Path(b)))
        print(f"repetition {i + 1}: mlflow {bare[-1]:.2f}s, hokusai up {ours[-1]:.2f}s", flush=True)
    ratio = median(ours) / median(bare)
    print_ratio(
        "startup to ready (fresh SQLite backend)",
        [("hokusai up -> /ready", ours, "s"), ("mlflow server -> /health", bare, "s")],
        ratio,
        "<= 1.2, and hokusai up <= 15 s",
    )


if __name__ == "__main__":
    main()
