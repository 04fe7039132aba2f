"""Where valuation retrains run: in this process, on local joblib workers, or on a Dask cluster.

A retrain is a pure function of (problem, coalition, seed): a seeded clone of the baseline fitted
on base + the coalition's contributions (in contribution order), scored on the benchmark by the
primary metric. Every fit runs with one BLAS/OpenMP thread (``threadpoolctl``), so the same fit
gives the same bits in this process, in a loky worker and on a Dask worker, and two fits at
once use two cores rather than fighting over them.

* ``workers == 1`` and no scheduler: in this process, one after the other (no copying of data);
* ``workers > 1``: ``joblib.Parallel`` (loky processes, kept for the whole valuation; numpy
  blocks of the frames are memory-mapped rather than pickled per task);
* ``HOKUSAI_DASK_SCHEDULER=tcp://host:port``: ``dask.distributed`` on that existing cluster; the
  problem is scattered to every worker once, then each retrain is one task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from hokusai.errors import ServiceUnavailable
from hokusai.evaluation.metrics import Task, compute_metrics
from hokusai.evaluation.training import fit, predict, seeded_clone

DASK_CONNECT_SECONDS = 10.0


@dataclass(frozen=True)
class RetrainProblem:
    """Everything a retrain needs; picklable, shipped to workers once."""

    estimator: Any
    base: pd.DataFrame
    players: tuple[pd.DataFrame, ...]
    benchmark: pd.DataFrame
    y: np.ndarray
    features: tuple[str, ...]
    target: str
    task: Task
    metric: str


@dataclass(frozen=True)
class Fit:
    """One retrain: which players (indices into ``RetrainProblem.players``) and which seed."""

    coalition: tuple[int, ...]
    seed: int


def utility(problem: RetrainProblem, job: Fit) -> float:
    """The primary metric of a seeded clone trained on base + the coalition."""
    with threadpool_limits(limits=1):
        parts = [problem.base, *(problem.players[i] for i in sorted(job.coalition))]
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else problem.base
        model = fit(seeded_clone(problem.estimator, job.seed), frame, problem.features, problem.target)
        predictions = predict(model, problem.benchmark, problem.features, problem.task)
        return compute_metrics(problem.y, predictions, problem.task)[problem.metric]


Done = Callable[[], None]


class Executor:
    """Runs fits in order of completion, returns utilities in the order asked."""

    def run(self, jobs: Sequence[Fit], done: Done) -> list[float]:
        raise NotImplementedError

    @property
    def description(self) -> str:
        raise NotImplementedError


class InProcess(Executor):
    def __init__(self, problem: RetrainProblem) -> None:
        self.problem = problem

    @property
    def description(self) -> str:
        return "in process"

    def run(self, jobs: Sequence[Fit], done: Done) -> list[float]:
        results = []
        for job in jobs:
            results.append(utility(self.problem, job))
            done()
        return results


class Joblib(Executor):
    def __init__(self, problem: RetrainProblem, parallel: Any, workers: int) -> None:
        self.problem, self.parallel, self.workers = problem, parallel, workers

    @property
    def description(self) -> str:
        return f"{self.workers} local joblib workers"

    def run(self, jobs: Sequence[Fit], done: Done) -> list[float]:
        from joblib import delayed

        results = []
        for value in self.parallel(delayed(utility)(self.problem, job) for job in jobs):
            results.append(value)
            done()
        return results


class Dask(Executor):
    def __init__(self, client: Any, problem: Any, address: str) -> None:
        self.client, self.problem, self.address = client, problem, address

    @property
    def description(self) -> str:
        return f"Dask cluster at {self.address}"

    def run(self, jobs: Sequence[Fit], done: Done) -> list[float]:
        futures = self.client.map(utility, [self.problem] * len(jobs), list(jobs), pure=False)
        results = []
        for future in futures:  # in submission order: progress ticks as the earliest ones finish
            results.append(float(future.result()))
            done()
        return results


@contextlib.contextmanager
def open_executor(
    problem: RetrainProblem, workers: int = 1, scheduler: str | None = None
) -> Iterator[Executor]:
    """The executor the settings ask for, open for the whole valuation."""
    if scheduler:
        with _dask_client(scheduler) as client:
            shipped = client.scatter(problem, broadcast=True, hash=False)
            yield Dask(client, shipped, scheduler)
        return
    if workers <= 1:
        yield InProcess(problem)
        return
    from joblib import Parallel

    with Parallel(n_jobs=workers, backend="loky", return_as="generator") as parallel:
        yield Joblib(problem, parallel, workers)


@contextlib.contextmanager
def _dask_client(address: str) -> Iterator[Any]:
    from distributed import Client

    try:
        client = Client(address, timeout=DASK_CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ServiceUnavailable(
            f"the Dask scheduler at {address} (HOKUSAI_DASK_SCHEDULER) does not answer: {exc}"
        ) from None
    try:
        yield client
    finally:
        client.close()
