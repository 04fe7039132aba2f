"""Reliability under load: 50 concurrent clients on a real `hokusai up` (API + its MLflow child), per target:
requests, errors, throughput, p50/p99 latency; and the throughput of an MLflow search through the platform's
authenticated proxy divided by the same search sent to MLflow directly (goal >= 0.9).

Targets, each kept busy by N clients (one keep-alive connection each, aiohttp) for the given seconds in total,
split into interleaved rounds so a change of load on the shared machine hits all of them alike:

* ``GET /api/v1/me`` with an owner's API key (authentication, the per-key rate limiter, a database-free path
  after the first request thanks to the credential cache);
* ``POST /mlflow/api/2.0/mlflow/runs/search`` through the proxy with the same key (authentication, the
  owner's MLflow permission on the experiment, the upstream hop);
* the same search on MLflow directly (the named baseline of the ratio).

The owner's key has a per-key limit of 1,000,000/min (the platform default is set to that too: a key may not
exceed the limit of the key that creates it), so the limiter runs on every request without refusing.
The experiment holds 20 runs with a few params and metrics (the search returns all of them).
Any answer other than 200, and any client error or timeout (30 s), counts as an error.
Usage: python benchmarks/load.py [--clients 50] [--seconds 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from _common import console
from mlflow.tracking import MlflowClient
from rich.table import Table

from hokusai.api_keys import generate_key
from hokusai.client import Client
from tests.support.net import free_port
from tests.support.stack import UpProcess

TIMEOUT_SECONDS = 30.0
RUNS = 20


@dataclass
class Tally:
    """What the clients saw on one target, over every round."""

    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: dict[str, int] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)  # the first answer of each kind of error
    seconds: float = 0.0

    def error(self, kind: str, sample: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.samples.setdefault(kind, sample[:300])

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


async def _client(session: aiohttp.ClientSession, target: Target, deadline: float, tally: Tally) -> None:
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            async with session.request(
                target.method, target.url, data=target.body, headers=target.headers
            ) as r:
                await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            kind = type(exc).__name__
            tally.errors[kind] = tally.errors.get(kind, 0) + 1
            continue
        if status == 200:
            tally.latencies.append(time.perf_counter() - started)
        else:
            tally.errors[f"HTTP {status}"] = tally.errors.get(f"HTTP {status}", 0) + 1


async def _round(target: Target, clients: int, seconds: float, tally: Tally) -> None:
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_client(session, target, deadline, tally) for _ in range(clients)))
        tally.seconds += time.perf_counter() - started


def first_traceback(log: Path) -> list[str]:
    """The first traceback MLflow logged (a failed request), to say where an error came from."""
    lines = log.read_text(errors="replace").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
    if start is None:
        return []
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()), start)
    return lines[start : end + 1]


def seed(up: UpProcess, admin_key: str) -> tuple[str, str]:
    """An owner's key (high per-key limit) and their experiment of RUNS runs, made through the proxy."""
    with Client(admin_key, up.api_url) as admin:
        key = admin.keys.create(
            "load", ["read", "write"], principal_name="load-owner", rate_limit_per_minute=1_000_000
        ).key
    os.environ["MLFLOW_TRACKING_TOKEN"] = str(key)
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    mlflow = MlflowClient(f"{up.api_url}/mlflow")
    experiment = mlflow.create_experiment("load")
    for i in range(RUNS):
        run = mlflow.create_run(experiment, run_name=f"run-{i}").info.run_id
        mlflow.log_param(run, "seed", str(i))
        for metric in ("auroc", "accuracy", "f1"):
            mlflow.log_metric(run, metric, 0.5 + i / 100)
        mlflow.set_terminated(run)
    return str(key), experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="total per target, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    admin = generate_key(live=False)
    with tempfile.TemporaryDirectory() as tmp:
        mlflow_port = free_port()
        env = {
            "HOKUSAI_DATA_DIR": str(Path(tmp) / "state"), "HOKUSAI_API_PORT": str(free_port()),
            "HOKUSAI_MLFLOW_PORT": str(mlflow_port), "HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH": admin.bootstrap_line,
            "HOKUSAI_ENVIRONMENT": "test", "HOKUSAI_LOG_LEVEL": "warning",
            "HOKUSAI_RATE_LIMIT_PER_MINUTE": "1000000",  # the admin's default: a child key may not exceed it
        }  # fmt: skip
        up = UpProcess(Path(tmp) / "up", env)
        try:
            up.wait_ready(180)
            key, experiment = seed(up, admin.key)
            search = f'{{"experiment_ids": ["{experiment}"], "max_results": 100}}'.encode()
            json_type = {"Content-Type": "application/json"}
            bearer = {"Authorization": f"Bearer {key}"}
            targets = [
                Target("GET /api/v1/me (API key)", "GET", f"{up.api_url}/api/v1/me", bearer),
                Target(
                    "runs/search via the proxy",
                    "POST",
                    f"{up.api_url}/mlflow/api/2.0/mlflow/runs/search",
                    {**bearer, **json_type},
                    search,
                ),
                Target(
                    "runs/search on MLflow",
                    "POST",
                    f"http://127.0.0.1:{mlflow_port}/api/2.0/mlflow/runs/search",
                    json_type,
                    search,
                ),
            ]
            tallies = {t.name: Tally() for t in targets}
            load_before = os.getloadavg()
            for i in range(args.rounds):
                for target in targets if i % 2 == 0 else reversed(targets):
                    asyncio.run(
                        _round(target, args.clients, args.seconds / args.rounds, tallies[target.name])
                    )
                console.print(f"round {i + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.1f}")
            load_after = os.getloadavg()
            stopped = up.process.poll() is None
            logged = [line for line in up.stderr.splitlines() if '"level": "error"' in line]
            logged += first_traceback(Path(tmp) / "state" / "logs" / "mlflow.log")
        finally:
            up.kill()
    report(tallies, args, load_before, load_after, stopped)
    for name, tally in tallies.items():
        for kind, sample in tally.samples.items():
            console.print(f"first {kind} from {name}: {sample}", highlight=False)
    for line in logged[-40:]:
        console.print(f"logged: {line[:300]}", highlight=False)


def report(
    tallies: dict[str, Tally],
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    up_alive: bool,
) -> None:
    table = Table(
        title=f"{args.clients} concurrent clients, {args.seconds:g} s per target in {args.rounds} rounds"
    )
    for column in ("target", "requests", "errors", "req/s", "p50 (ms)", "p99 (ms)"):
        table.add_column(column, justify="left" if column in ("target", "errors") else "right")
    for name, tally in tallies.items():
        errors = ", ".join(f"{kind}: {n}" for kind, n in tally.errors.items()) or "0"
        table.add_row(
            name, f"{tally.requests:,}", errors, f"{tally.throughput:,.0f}",
            f"{tally.percentile(0.5):.1f}", f"{tally.percentile(0.99):.1f}",
        )  # fmt: skip
    console.print(table)
    proxied, direct = (tallies[n].throughput for n in list(tallies)[1:])
    console.print(
        f"[bold]proxied / direct MLflow search throughput = {proxied / direct:.3f}[/]  (goal >= 0.9)"
    )
    console.print(
        f"load average (1, 5, 15 min) before {', '.join(f'{v:.1f}' for v in load_before)}; "
        f"after {', '.join(f'{v:.1f}' for v in load_after)}; {os.cpu_count()} cores; "
        f"hokusai up {'still running' if up_alive else 'DIED'} at the end"
    )


if __name__ == "__main__":
    main()
