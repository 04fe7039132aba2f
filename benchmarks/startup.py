"""Startup, four parts (``--part up|cli|pipeline|platform|all``, default all):

* up: `hokusai up` launch -> /ready 200, divided by bare `mlflow server --workers 1` -> /health 200. Both on
  a fresh SQLite backend store (same kind), interleaved, 3 repetitions each, in one run.
* cli: wall time of `hokusai --help`, `hokusai data validate --help` and `hokusai pipeline run --help` as
  fresh processes (the console script), interleaved with the named baseline: the `--help` of a one-command
  Typer app (the floor of any Typer + rich CLI); medians of ``--cli-repeat`` runs. Goal: each <= 0.5 s.
* pipeline: `hokusai pipeline run` as a fresh process (the console script's entry point) divided by the bare
  scikit-learn work of benchmarks/pipeline.py plus a bare ``KDTree`` near-copy search of the same rows
  (``bare_near_copies``: the trust work the pipeline does and P1's bare work does not; P1's own data,
  baseline, command and bare work, imported from it), interleaved, ``--repeat`` times after one untimed cold
  run, in wall-clock time and in CPU time (the child's user + system time from ``wait4``; the bare work's
  process time). CPU time is what the other work on a shared machine does not distort.
  Goal: <= 1.3. ``--rows`` as P1 (1,000,000).
* platform: a run submitted to a real `hokusai up` (POST /api/v1/runs until the client sees it succeeded,
  polling every 250 ms) divided by the same evaluation in a warm process: `hokusai pipeline run` through its
  entry point in this process (after one untimed run), on the same files, recording into the same MLflow.
  The platform's local runner hands each run to a worker started ahead (``hokusai worker standby``, its
  imports done); what that saves is reported too: the standby's imports timed as a fresh process. Each
  repetition submits a new contribution (a fresh copy of P1's, one row changed), which the warm run
  evaluates too (new to both: both validate it). Goal: <= 1.1.
Usage: python benchmarks/startup.py [--part all] [--repeat 3] [--cli-repeat 10] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import median, print_ratio

from tests.support.net import free_port, wait_http
from tests.support.stack import UpProcess, children


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


CLI_COMMANDS = (("--help",), ("data", "validate", "--help"), ("pipeline", "run", "--help"))
TYPER_FLOOR = "import typer; app = typer.Typer(); app.command()(lambda path: None); app()"


def time_command(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def cli_startup(repeat: int) -> None:
    """Each CLI command's start-up as a fresh process, against the --help of a one-command Typer app."""
    import os

    hokusai = str(Path(sys.executable).with_name("hokusai"))
    bare: list[float] = []
    ours: dict[tuple[str, ...], list[float]] = {args: [] for args in CLI_COMMANDS}
    time_command([hokusai, "--help"])  # warm the page cache and the bytecode files
    for _ in range(repeat):
        bare.append(time_command([sys.executable, "-c", TYPER_FLOOR, "--help"]))
        for args in CLI_COMMANDS:
            ours[args].append(time_command([hokusai, *args]))
    rows = [(f"hokusai {' '.join(args)}", values, "s") for args, values in ours.items()]
    slowest = max(median(values) for values in ours.values())
    print_ratio(
        f"CLI start-up as a fresh process (load average {os.getloadavg()[0]:.1f})",
        [*rows, ("one-command Typer app --help (baseline)", bare, "s")],
        slowest / median(bare),
        f"each command <= 0.5 s; slowest median here {slowest:.3f} s",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=("up", "cli", "pipeline", "platform", "all"), default="all")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cli-repeat", type=int, default=10)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.part in ("cli", "all"):
        cli_startup(args.cli_repeat)
    if args.part in ("pipeline", "all"):
        pipeline_startup(args.rows, args.repeat)
    if args.part in ("platform", "all"):
        platform_startup(args.rows, args.repeat)
    if args.part in ("up", "all"):
        up_startup(args.repeat)


def child_run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one ``hokusai pipeline run``, which must complete (up to recording)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode not in (0, 1) or "✓ record" not in finished.stderr:  # 1: completed, not accepted
        raise SystemExit(f"pipeline run failed ({finished.returncode}):\n{finished.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def pipeline_startup(rows: int, repeat: int) -> None:
    """`hokusai pipeline run` as a fresh process against P1's bare scikit-learn work, wall clock and CPU."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as P1: both sides on one thread, set before numpy loads
    import pandas as pd
    from pipeline import SEED, SIGNER_KEY, bare_near_copies, bare_work, generate, run_args
    from sklearn.ensemble import HistGradientBoostingClassifier

    from hokusai.tracking.models import save_model_dir
    from tests.support.mlflow import MlflowServer, mlflow_settings

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        parts = generate(root, rows)
        baseline = HistGradientBoostingClassifier(random_state=SEED)
        baseline.fit(parts["base"].drop(columns="label"), parts["base"]["label"])
        save_model_dir(baseline, root / "baseline")
        train = pd.concat([parts["base"], parts["contribution"]], ignore_index=True)
        server = MlflowServer(mlflow_settings(root / "mlflow")).start()
        env = {
            **os.environ, "HOKUSAI_DATA_DIR": str(root / "state"), "HOKUSAI_TRACKING_URI": server.url,
            "HOKUSAI_SIGNER_KEY": SIGNER_KEY,
        }  # fmt: skip
        command = [str(Path(sys.executable).with_name("hokusai")), *run_args(root)]
        walls: dict[str, list[float]] = {"child": [], "bare": []}
        cpus: dict[str, list[float]] = {"child": [], "bare": []}
        try:
            child_run(command, env)  # cold: validates the base data and benchmark once (cached afterwards)
            for i in range(repeat):
                cpu_started, started = time.process_time(), time.perf_counter()
                bare_work(baseline, train, parts["benchmark"])
                bare_near_copies(parts["base"], parts["contribution"], parts["benchmark"])
                walls["bare"].append(time.perf_counter() - started)
                cpus["bare"].append(time.process_time() - cpu_started)
                wall, cpu = child_run(command, env)
                walls["child"].append(wall)
                cpus["child"].append(cpu)
                print(
                    f"repetition {i + 1}: bare {walls['bare'][-1]:.1f} s (CPU {cpus['bare'][-1]:.1f} s), "
                    f"child {wall:.1f} s (CPU {cpu:.1f} s), load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        finally:
            server.stop()
    for measure, series in (("wall clock", walls), ("CPU time", cpus)):
        print_ratio(
            f"hokusai pipeline run as a fresh process vs bare work ({rows:,} rows, {measure})",
            [
                ("hokusai pipeline run (fresh process)", series["child"], "s"),
                ("bare scikit-learn work + bare KDTree near-copy search", series["bare"], "s"),
            ],
            median(series["child"]) / median(series["bare"]),
            "<= 1.3",
        )


PRELOAD = (
    "import importlib; from hokusai.server.worker import STANDBY_PRELOAD as m; "
    "[importlib.import_module(n) for n in m]"
)


def children_cpu() -> float:
    """CPU seconds of this process's reaped children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int, reaped_children: bool = False) -> float:
    """CPU seconds (user + system) of ``pid``, plus those of the children it has reaped if asked."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11 : 15 if reaped_children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def time_platform_run(http: Any, model: str, contribution: str, api: int) -> tuple[float, float, float]:
    """(wall, CPU, the API's own CPU) seconds of one platform run: from POST /api/v1/runs until the client
    sees it succeeded; CPU of the API process and of the run's worker, without what the worker spent before
    it was handed the run (its imports ahead) and without the worker its slot starts for the next run."""
    waiting = {pid: process_cpu(pid) for pid in children(api)}
    cpu, own = process_cpu(api, reaped_children=True), process_cpu(api)
    started = time.perf_counter()
    run_id = http.post("/api/v1/runs", json={"model": model, "contributions": [contribution]}).json()["id"]
    while (state := http.get(f"/api/v1/runs/{run_id}").json())["state"] in ("queued", "running"):
        time.sleep(0.25)  # the API's CPU for answering is in the figure: a poll costs it ~1 ms
    wall = time.perf_counter() - started
    if state["state"] != "succeeded":
        raise SystemExit(f"platform run {run_id} {state['state']}: {state.get('error')}")
    deadline = time.monotonic() + 60  # the run's worker exits after its result is stored; the API reaps it
    while waiting and all(Path(f"/proc/{pid}").exists() for pid in waiting) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    spent = process_cpu(api, reaped_children=True) - cpu
    reaped = sum(before for pid, before in waiting.items() if not Path(f"/proc/{pid}").exists())
    return wall, spent - reaped, process_cpu(api) - own


def platform_startup(rows: int, repeat: int) -> None:
    """A run through a real `hokusai up` (its worker started ahead) against the same run in a warm process."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as P1, and the platform's worker inherits it
    import httpx
    from eth_account import Account
    from pipeline import SEED, SIGNER_KEY, generate, in_process_run
    from sklearn.ensemble import HistGradientBoostingClassifier

    from hokusai.api_keys import generate_key
    from hokusai.client import Client
    from hokusai.server.jobs import STANDBY_DELAY_SECONDS
    from hokusai.tracking.models import save_model_dir

    contributor = Account.from_key("0x" + "43" * 32)  # signs the contribution's terms (issue 23)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        parts = generate(root, rows)
        baseline = HistGradientBoostingClassifier(random_state=SEED)
        baseline.fit(parts["base"].drop(columns="label"), parts["base"]["label"])
        save_model_dir(baseline, root / "baseline")
        admin = generate_key(live=False)
        mlflow_port = free_port()
        up = UpProcess(root / "up", {
            "HOKUSAI_DATA_DIR": str(root / "state"), "HOKUSAI_API_PORT": str(free_port()),
            "HOKUSAI_MLFLOW_PORT": str(mlflow_port), "HOKUSAI_ENVIRONMENT": "test",
            "HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH": admin.bootstrap_line,
            "HOKUSAI_RATE_LIMIT_PER_MINUTE": "100000", "HOKUSAI_JOB_STANDBY": "true",
        })  # fmt: skip
        walls: dict[str, list[float]] = {"platform": [], "warm": [], "imports": []}
        cpus: dict[str, list[float]] = {"platform": [], "warm": [], "imports": []}
        try:
            up.wait_ready(180)
            api = up.api_pid()
            assert api is not None
            with Client(api_key=admin.key, url=up.api_url) as client:
                client.models.register(
                    "startup", target="label", train=root / "base.parquet",
                    benchmark=root / "benchmark.parquet", archive=root / "baseline",
                )  # fmt: skip
                client.request("POST", "/api/v1/benchmarks", json={"model": "startup", "cooldown_seconds": 0})
            os.environ.update({
                "HOKUSAI_DATA_DIR": str(root / "cli"), "HOKUSAI_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
                "HOKUSAI_SIGNER_KEY": SIGNER_KEY,
            })  # fmt: skip
            in_process_run(root)  # warm-up: this process imports what the command needs
            settle = 1.5 * time_command([sys.executable, "-c", PRELOAD])  # a standby's imports, with a margin
            headers = {"Authorization": f"Bearer {admin.key}"}
            with httpx.Client(base_url=up.api_url, headers=headers, timeout=60) as http:
                for i in range(repeat + 1):  # the first platform run is untimed (it warms the page cache)
                    contribution = parts["contribution"].copy()
                    contribution.iloc[0, 0] += i + 1  # a new data hash: a new contribution
                    path = root / f"contribution-{i}.parquet"
                    contribution.to_parquet(path, index=False)
                    with Client(api_key=admin.key, url=up.api_url) as client:
                        submitted = client.contributions.submit("startup", path, signer=contributor)
                    # every slot's standby has started (slot i after (i + 1) x the delay) and imported
                    time.sleep(settle + (2 * STANDBY_DELAY_SECONDS if i == 0 else 0))
                    seconds, cpu, api_cpu = time_platform_run(http, "startup", submitted.id, api)
                    if i == 0:
                        continue
                    walls["platform"].append(seconds)
                    cpus["platform"].append(cpu)
                    cpu_started = time.process_time()
                    walls["warm"].append(in_process_run(root, path))  # new to it too: validated
                    cpus["warm"].append(time.process_time() - cpu_started)
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    walls["imports"].append(time_command([sys.executable, "-c", PRELOAD]))
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cpus["imports"].append(
                        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                    )
                    print(
                        f"repetition {i}: platform {seconds:.2f} s (CPU {cpu:.2f} s, of it the API "
                        f"{api_cpu:.2f} s), warm process "
                        f"{walls['warm'][-1]:.2f} s (CPU {cpus['warm'][-1]:.2f} s), a worker's imports "
                        f"{walls['imports'][-1]:.2f} s (CPU {cpus['imports'][-1]:.2f} s), "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
        finally:
            up.kill()
    for measure, series in (("wall clock", walls), ("CPU time", cpus)):
        print_ratio(
            f"a platform run vs the same run in a warm process ({rows:,} rows, {measure})",
            [("run through hokusai up (POST -> succeeded)", series["platform"], "s"),
             ("hokusai pipeline run in a warm process", series["warm"], "s"),
             ("a fresh worker's imports (saved by the standby)", series["imports"], "s")],
            median(series["platform"]) / median(series["warm"]),
            "<= 1.1",
        )  # fmt: skip


def up_startup(repeat: int) -> None:
    """`hokusai up` to /ready against a bare MLflow server to /health."""
    ours: list[float] = []
    bare: list[float] = []
    for i in range(repeat):
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
