"""Containers (issue 21): the containerised stack against `hokusai up`, two ratios measured in one run.

* cold start: `podman-compose up` of docker/compose.yaml (fresh volumes; the PostgreSQL and S3 stand-ins,
  the API and MLflow images built by tests/support/containers.py) -> the API's /ready 200 through its
  published port, divided by `hokusai up` launch (fresh data dir: SQLite, local folders) -> /ready 200.
* evaluation: one evaluation of the breast-cancer demo (submit -> succeeded, polled every 0.25 s) through
  the stack (the run is a one-off container of the API image, PostgreSQL, S3, MLflow in containers),
  divided by the same evaluation through `hokusai up` (the run is a child process of the API).
Each repetition starts both afresh, `hokusai up` first; medians of ``--repeat``. Needs podman, runc,
debootstrap and podman-compose (as the container tests).
Usage: HOKUSAI_TEST_IMAGE_TAG=bench python benchmarks/containers.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import median, print_ratio
from eth_account import Account

import hokusai
from hokusai.api_keys import generate_key
from hokusai.pipeline.demo import TARGET, prepare_demo
from hokusai.pipeline.spec import PipelineSpec
from tests.support import containers
from tests.support.compose import build_stand_ins, compose_stack
from tests.support.net import free_port
from tests.support.stack import UpProcess


def evaluate(url: str, admin_key: str, domain: str, demo: PipelineSpec) -> float:
    """Register the demo model, contribute with a wallet, and time one evaluation (submit -> succeeded)."""
    with hokusai.Client(url=url, api_key=admin_key) as admin:
        owner_key = admin.keys.create("owner", ["read", "write"], principal_name="owner").key
    owner = hokusai.Client(url=url, api_key=owner_key)
    owner.models.register(
        "bench", target=TARGET, train=demo.train, benchmark=demo.benchmark, archive=Path(demo.baseline)
    )
    contributor = hokusai.Client(url=url, wallet=Account.create(), domain=domain)
    contribution = contributor.contributions.submit("bench", demo.contributions[0].path)
    started = time.monotonic()
    run = contributor.runs.submit("bench", [contribution.id])
    final = contributor.runs.wait(run.id, timeout=900, interval=0.25)
    elapsed = time.monotonic() - started
    if final.state != "succeeded":
        raise RuntimeError(f"the benchmark's evaluation failed: {final.error}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    containers.ensure_base()
    for tag in containers.DOCKERFILES:
        containers.build_image(tag)
    build_stand_ins()
    starts: dict[str, list[float]] = {"stack": [], "up": []}
    evaluations: dict[str, list[float]] = {"stack": [], "up": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="hokusai-bench-containers-") as tmp:
            workdir = Path(tmp)
            demo = prepare_demo(workdir / "demo")
            admin = generate_key(live=False)
            settings = {"HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH": admin.bootstrap_line,
                        "HOKUSAI_RATE_LIMIT_PER_MINUTE": "100000"}  # fmt: skip

            port = free_port()
            env = {**settings, "HOKUSAI_DATA_DIR": str(workdir / "up"), "HOKUSAI_API_PORT": str(port),
                   "HOKUSAI_MLFLOW_PORT": str(free_port())}  # fmt: skip
            started = time.monotonic()
            up = UpProcess(workdir, env)
            try:
                up.wait_ready(300)
                starts["up"].append(time.monotonic() - started)
                evaluations["up"].append(evaluate(up.api_url, admin.key, f"127.0.0.1:{port}", demo))
            finally:
                up.kill()

            port = free_port()
            started = time.monotonic()
            with compose_stack(workdir, port, settings) as stack:
                stack.wait_ready(600)
                starts["stack"].append(time.monotonic() - started)
                evaluations["stack"].append(evaluate(stack.url, admin.key, f"127.0.0.1:{port}", demo))
    print_ratio(
        "cold start to /ready: the containerised stack / hokusai up",
        [("podman-compose up -> /ready", starts["stack"], "s"), ("hokusai up -> /ready", starts["up"], "s")],
        median(starts["stack"]) / median(starts["up"]),
        "reported",
    )
    print_ratio(
        "one evaluation (submit -> succeeded): the containerised stack / hokusai up",
        [
            ("run container, PostgreSQL, S3", evaluations["stack"], "s"),
            ("hokusai up (child process)", evaluations["up"], "s"),
        ],
        median(evaluations["stack"]) / median(evaluations["up"]),
        "reported",
    )


if __name__ == "__main__":
    main()
