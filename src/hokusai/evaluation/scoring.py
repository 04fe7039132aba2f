"""Score models of any task on the benchmark: classification (class indices and per-class scores) or
regression (predicted values), behind one interface the pipeline and the valuation retrains use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hokusai.evaluation.compare import MetricComparison, compare_models, compare_regressions
from hokusai.evaluation.families import metric
from hokusai.evaluation.metrics import Predictions, Task, compute_metrics
from hokusai.evaluation.regression import RegressionTask, regression_metrics
from hokusai.evaluation.training import predict, predict_values

AnyTask = Task | RegressionTask
Scored = Predictions | np.ndarray


def predict_benchmark(estimator: Any, frame: pd.DataFrame, features: Sequence[str], task: AnyTask) -> Scored:
    """A model's output on the benchmark rows: predicted values (regression) or classes and scores."""
    if isinstance(task, RegressionTask):
        return predict_values(estimator, frame, features)
    return predict(estimator, frame, features, task)


def benchmark_metrics(y: np.ndarray, scored: Scored, task: AnyTask) -> dict[str, float]:
    """Every metric of one model's output."""
    if isinstance(task, RegressionTask):
        assert isinstance(scored, np.ndarray)
        return regression_metrics(y, scored, task)
    assert isinstance(scored, Predictions)
    return compute_metrics(y, scored, task)


def compare_scored(
    y: np.ndarray, baseline: Scored, candidate: Scored, task: AnyTask, *, seed: int
) -> dict[str, MetricComparison]:
    """Both models' metrics with the paired interval of each difference."""
    if isinstance(task, RegressionTask):
        assert isinstance(baseline, np.ndarray) and isinstance(candidate, np.ndarray)
        return compare_regressions(y, baseline, candidate, task, seed=seed)
    assert isinstance(baseline, Predictions) and isinstance(candidate, Predictions)
    return compare_models(y, baseline, candidate, task, seed=seed)


def utility(name: str, value: float) -> float:
    """A metric's value as a utility in its delta units: higher is always better (-RMSE, AUROC in pp)."""
    info = metric(name)
    return info.units(value if info.higher_is_better else -value)
