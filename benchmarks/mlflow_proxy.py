"""P6: MLflow client latency through the platform's authenticated proxy vs. the MLflow server directly.

One MLflow server and one platform API (`hokusai serve`, its own process, as deployed) started by this
script; the stock MLflow client runs the same operations against both, interleaved: log_metric,
search_runs and log_artifact of a 10 MB file. Medians per operation and their ratio (proxy / direct).
The key is an owner's (not an admin's), so every proxied call goes through the permission checks: the run
resolved to its experiment, the owner's level on it looked up (the per-process cache as deployed), the
MLflow write audited. Its rate limit is high enough not to throttle the benchmark.
Usage: python benchmarks/mlflow_proxy.py [--repeat 40]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _common import console, median, print_ratio
from mlflow.tracking import MlflowClient

from hokusai.api_keys import generate_key
from hokusai.client import Client
from tests.support.mlflow import MlflowServer, mlflow_settings
from tests.support.net import free_port
from tests.support.stack import UpProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=40, help="log_metric/search_runs calls per side")
    parser.add_argument("--artifacts", type=int, default=6, help="10 MB artifact uploads per side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mlflow = MlflowServer(mlflow_settings(root / "mlflow")).start()
        admin = generate_key(live=False)
        env = {
            "HOKUSAI_DATA_DIR": str(root / "platform"), "HOKUSAI_API_PORT": str(free_port()),
            "HOKUSAI_MLFLOW_URL": mlflow.url, "HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH": admin.bootstrap_line,
        }  # fmt: skip
        api = UpProcess(root / "serve", env, command="serve")
        try:
            api.wait_ready(60)
            with Client(admin.key, api.api_url) as client:
                key = client.keys.create(
                    "p6", ["read", "write"], principal_name="p6-owner", rate_limit_per_minute=1_000_000
                ).key
            os.environ["MLFLOW_TRACKING_TOKEN"] = str(key)
            clients = {"direct": MlflowClient(mlflow.url), "proxy": MlflowClient(f"{api.api_url}/mlflow")}
            results = measure(clients, root, args.repeat, args.artifacts)
        finally:
            api.kill()
            mlflow.stop()
    worst = 0.0
    for operation, sides in results.items():
        ratio = median(sides["proxy"]) / median(sides["direct"])
        worst = max(worst, ratio)
        print_ratio(
            f"P6 {operation}",
            [(f"{side}", [v * 1000 for v in values], "ms") for side, values in sides.items()],
            ratio,
            "<= 1.2",
        )
    console.print(f"[bold]P6 worst ratio over the three operations = {worst:.3f}[/] (goal <= 1.2)")


def measure(clients: dict[str, MlflowClient], root: Path, repeat: int, artifacts: int) -> dict[str, dict]:
    """Interleaved timings per operation and side, after one warm-up call each."""
    runs = {}
    for side, client in clients.items():
        experiment = client.create_experiment(f"p6-{side}")
        runs[side] = client.create_run(experiment).info.run_id
        client.log_metric(runs[side], "warmup", 0.0)
        client.search_runs([experiment], max_results=10)
    blob = root / "artifact.bin"
    blob.write_bytes(os.urandom(10 << 20))
    results: dict[str, dict] = {
        op: {"direct": [], "proxy": []} for op in ("log_metric", "search_runs", "log_artifact")
    }
    for i in range(repeat):
        for side, client in clients.items():
            run = runs[side]
            experiment = client.get_run(run).info.experiment_id
            started = time.perf_counter()
            client.log_metric(run, "loss", 1.0 / (i + 1), step=i)
            results["log_metric"][side].append(time.perf_counter() - started)
            started = time.perf_counter()
            client.search_runs([experiment], max_results=10)
            results["search_runs"][side].append(time.perf_counter() - started)
    for i in range(artifacts):
        for side, client in clients.items():
            started = time.perf_counter()
            client.log_artifact(runs[side], str(blob), f"copy{i}")
            results["log_artifact"][side].append(time.perf_counter() - started)
    return results


if __name__ == "__main__":
    main()
