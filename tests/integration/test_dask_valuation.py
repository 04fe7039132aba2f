"""Valuation retrains on a real Dask cluster (a ``dask scheduler`` and two ``dask worker`` processes
on loopback, started here) give the same values, bit for bit, as in process and on joblib workers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hokusai.config import Settings
from hokusai.errors import ServiceUnavailable
from hokusai.evaluation import executor
from hokusai.evaluation.attribution import Attribution, ValuationConfig, attribute
from hokusai.evaluation.executor import Fit, RetrainProblem, utility
from hokusai.evaluation.metrics import task_for
from hokusai.pipeline import Contribution, PipelineSpec, run_pipeline
from hokusai.tracking.models import save_model_dir
from tests.support.mlflow import mlflow_settings
from tests.support.net import free_port

TARGET = "label"


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tcp://127.0.0.1:PORT`` of a scheduler with two single-threaded workers (own processes)."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (pyproject)")
    dask = shutil.which("dask", path=str(Path(sys.executable).parent))
    if dask is None:
        pytest.skip("the `dask` command is not installed beside this Python (pip install distributed)")
    root = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    log = (root / "cluster.log").open("w")
    scheduler = ["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard", "--no-show"]
    worker = ["worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"]
    started = [subprocess.Popen([dask, *scheduler], stdout=log, stderr=log)]
    started += [
        subprocess.Popen([dask, *worker, "--local-directory", str(root / f"w{i}")], stdout=log, stderr=log)
        for i in range(2)
    ]
    try:
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def _problem(estimator: object, players: int) -> RetrainProblem:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": TARGET}).sample(frac=1.0, random_state=0)
    features = tuple(c for c in frame.columns if c != TARGET)
    base, benchmark, pool = frame.iloc[:60], frame.iloc[60:300], frame.iloc[300:]
    task = task_for(frame[TARGET])
    size = len(pool) // players
    return RetrainProblem(
        estimator=estimator,
        base=base,
        players=tuple(pool.iloc[i * size : (i + 1) * size] for i in range(players)),
        benchmark=benchmark,
        y=task.indices(benchmark[TARGET]),
        features=features,
        target=TARGET,
        task=task,
        metric="auroc",
    )


def _value(problem: RetrainProblem, config: ValuationConfig) -> Attribution:
    full = utility(problem, Fit(tuple(range(len(problem.players))), 42))
    return attribute(
        problem,
        [True] * len(problem.players),
        full_utility=full,
        baseline_utility=0.5,
        accepted=True,
        seed=42,
        config=config,
    )


def _evidence(attribution: Attribution) -> dict[str, object]:
    return {**attribution.report(), "values": attribution.values_pp, "errors": attribution.stderr_pp}


# a forest uses its seed (a noise floor above 0); logistic regression does not
ESTIMATORS = {
    "forest": RandomForestClassifier(n_estimators=15, max_depth=4, random_state=0),
    "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
}


@pytest.mark.parametrize(("name", "players", "budget"), [("forest", 4, 24), ("logistic", 9, 24)])
def test_a_dask_cluster_gives_the_same_values_bit_for_bit_as_this_process(
    dask_scheduler: str, name: str, players: int, budget: int
) -> None:
    problem = _problem(ESTIMATORS[name], players)
    local = _value(problem, ValuationConfig(budget=budget))
    remote = _value(problem, ValuationConfig(budget=budget, dask_scheduler=dask_scheduler))
    assert remote.executor.startswith("Dask cluster")
    assert _evidence(remote) == _evidence(local)
    assert local.retrains <= budget  # a deterministic model spends one probe, not three seeds


def test_two_joblib_workers_give_the_same_values_bit_for_bit_as_this_process() -> None:
    problem = _problem(ESTIMATORS["forest"], 9)
    local = _value(problem, ValuationConfig(budget=20))
    parallel = _value(problem, ValuationConfig(budget=20, workers=2))
    assert parallel.executor == "2 local joblib workers"
    assert _evidence(parallel) == _evidence(local)
    assert local.noise_floor_pp is not None and local.noise_floor_pp > 0


def test_a_pipeline_run_on_the_cluster_writes_the_same_report_as_a_local_run(
    dask_scheduler: str, tmp_path: Path
) -> None:
    data = load_breast_cancer(as_frame=True).frame.rename(columns={"target": TARGET})
    data = data.sample(frac=1.0, random_state=1)
    files = {"base": data.iloc[:80], "benchmark": data.iloc[80:330]}
    files |= {f"c{i}": data.iloc[330 + 40 * i : 370 + 40 * i] for i in range(6)}
    for name, frame in files.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    features = [c for c in data.columns if c != TARGET]
    baseline = ESTIMATORS["logistic"].fit(files["base"][features], files["base"][TARGET])
    save_model_dir(baseline, tmp_path / "baseline")

    def report(settings: Settings, out: str) -> dict[str, object]:
        spec = PipelineSpec(
            baseline=str(tmp_path / "baseline"),
            train=tmp_path / "base.csv",
            benchmark=tmp_path / "benchmark.csv",
            contributions=tuple(Contribution(tmp_path / f"c{i}.csv") for i in range(6)),
            target=TARGET,
            preview=True,
            out_dir=tmp_path / out,
        )
        return json.loads(run_pipeline(spec, settings).report_path.read_text())  # type: ignore[union-attr]

    settings = mlflow_settings(tmp_path / "state")
    local = report(settings, "local")
    remote = report(settings.model_copy(update={"dask_scheduler": dask_scheduler}), "remote")
    assert local["valuation"]["method"] == "exact_shapley"  # 2^6 coalitions and the probe fit the budget
    assert remote == local


def test_an_unreachable_scheduler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "DASK_CONNECT_SECONDS", 1.0)
    problem = _problem(ESTIMATORS["logistic"], 2)
    dead = f"tcp://127.0.0.1:{free_port()}"
    config = ValuationConfig(budget=8, dask_scheduler=dead)
    with pytest.raises(ServiceUnavailable, match="does not answer"):
        _value(problem, config)
