"""Regression metrics and their paired intervals on the same benchmark rows.

RMSE, MAE and R2 of each model, and ``accuracy``: the share of rows predicted within a tolerance of the
truth (the attestation schema requires an accuracy for every model; for regression this is what it is).
Intervals of the paired differences (candidate - baseline) come from one paired percentile bootstrap over
benchmark rows: each resample draws row indices once and recomputes every metric of both models on them,
so the interval is about the very number reported. Beside it, a paired t-test and a Wilcoxon signed-rank
test on the per-row loss differences (squared errors for RMSE and R2, absolute errors for MAE).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hokusai.evaluation.intervals import BOOTSTRAP, Interval

REGRESSION_METRICS = ("accuracy", "rmse", "mae", "r2")
TOLERANCE_SHARE = 0.5  # default accuracy tolerance: half the base data's target standard deviation
_CELLS = 4_000_000  # resample rows held at once (bounded memory for big benchmarks)


@dataclass(frozen=True)
class RegressionTask:
    """A regression comparison: ``tolerance`` is how close a prediction must be to count as accurate."""

    tolerance: float
    kind: Literal["regression"] = "regression"
    binary = False
    classes: tuple[Any, ...] = ()

    @property
    def averaging(self) -> str:
        return f"regression (accuracy: |prediction - truth| <= {self.tolerance:g})"

    def default_primary_metric(self) -> str:
        return "rmse"


def default_tolerance(target: np.ndarray) -> float:
    """Half the standard deviation of the (base data's) target; 1 when it is constant."""
    spread = float(np.std(np.asarray(target, dtype=float)))
    return TOLERANCE_SHARE * spread if spread > 0 else 1.0


def _metrics(errors: np.ndarray, truth: np.ndarray, tolerance: float) -> dict[str, np.ndarray]:
    """Every metric along the last axis of ``errors`` (prediction - truth) and ``truth``."""
    squared = np.mean(errors**2, axis=-1)
    spread = np.sum((truth - truth.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(spread > 0, 1.0 - squared * truth.shape[-1] / spread, np.nan)
    return {
        "accuracy": np.mean(np.abs(errors) <= tolerance, axis=-1),
        "rmse": np.sqrt(squared),
        "mae": np.mean(np.abs(errors), axis=-1),
        "r2": r2,
    }


def regression_metrics(y: np.ndarray, predicted: np.ndarray, task: RegressionTask) -> dict[str, float]:
    """RMSE, MAE, R2 and within-tolerance accuracy of one model on the benchmark."""
    truth = np.asarray(y, dtype=float)
    values = _metrics(np.asarray(predicted, dtype=float) - truth, truth, task.tolerance)
    return {name: float(value) for name, value in values.items()}


def regression_intervals(
    y: np.ndarray,
    baseline: np.ndarray,
    candidate: np.ndarray,
    task: RegressionTask,
    *,
    seed: int,
    resamples: int = 2000,
    confidence: float = 0.95,
) -> dict[str, Interval]:
    """Percentile intervals of every metric's paired difference, one row bootstrap for all of them."""
    truth = np.asarray(y, dtype=float)
    base_err = np.asarray(baseline, dtype=float) - truth
    cand_err = np.asarray(candidate, dtype=float) - truth
    n = len(truth)
    rng = np.random.Generator(np.random.PCG64(seed))
    chunk = max(1, _CELLS // max(n, 1))
    diffs: dict[str, list[np.ndarray]] = {name: [] for name in REGRESSION_METRICS}
    for start in range(0, resamples, chunk):
        rows = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        resampled = truth[rows]
        base = _metrics(base_err[rows], resampled, task.tolerance)
        cand = _metrics(cand_err[rows], resampled, task.tolerance)
        for name in REGRESSION_METRICS:
            diffs[name].append(cand[name] - base[name])
    tail = (1.0 - confidence) / 2.0
    intervals = {}
    for name, parts in diffs.items():
        values = np.concatenate(parts)
        values = values[np.isfinite(values)]
        if len(values):
            low, high = np.quantile(values, [tail, 1.0 - tail])
            intervals[name] = Interval(float(low), float(high), BOOTSTRAP)
    return intervals


def paired_tests(y: np.ndarray, baseline: np.ndarray, candidate: np.ndarray) -> dict[str, Any]:
    """Paired t and Wilcoxon signed-rank tests of the per-row loss differences (candidate - baseline):
    squared errors (what RMSE and R2 are made of) and absolute errors (MAE). Two-sided p-values."""
    from scipy import stats

    truth = np.asarray(y, dtype=float)
    out: dict[str, Any] = {}
    for loss, power in (("squared_error", 2), ("absolute_error", 1)):
        difference = (
            np.abs(np.asarray(candidate) - truth) ** power - np.abs(np.asarray(baseline) - truth) ** power
        )
        entry: dict[str, Any] = {"mean_difference": float(np.mean(difference))}
        if np.allclose(difference, 0):
            entry.update(paired_t_p=1.0, wilcoxon_p=1.0)
        else:
            t = stats.ttest_rel(np.abs(np.asarray(candidate) - truth) ** power,
                                np.abs(np.asarray(baseline) - truth) ** power)  # fmt: skip
            w = stats.wilcoxon(difference, zero_method="zsplit")
            entry.update(
                paired_t=float(t.statistic), paired_t_p=_finite(t.pvalue),
                wilcoxon=float(w.statistic), wilcoxon_p=_finite(w.pvalue),
            )  # fmt: skip
        out[loss] = entry
    return out


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
