"""Paired confidence intervals for metric differences over the same benchmark rows.

* Accuracy, precision, recall, F1: paired percentile bootstrap over benchmark rows. Every one of
  these metrics is a function of the two confusion matrices, and a row enters them only through
  its (true class, baseline prediction, candidate prediction) cell. Resampling rows with
  replacement is therefore exactly a multinomial draw over those cells, which is what we do:
  ``resamples`` draws of at most K^3 counts instead of ``resamples`` x n row indices. Same
  distribution as the row bootstrap, independent of the benchmark size.
* AUROC: DeLong's method for correlated ROC curves. The variance of the paired difference comes
  from each row's structural components (placement values); for multiclass, the components of the
  one-vs-rest classes are averaged per row before the variance is taken, so the macro average
  keeps the correlation between classes. Normal interval, no resampling, seed-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from hokusai.evaluation.metrics import COUNT_METRICS, Task, auroc_classes, count_metrics, placements

BOOTSTRAP = "paired_bootstrap"
DELONG = "delong"


@dataclass(frozen=True)
class Interval:
    """A two-sided interval for (candidate - baseline), in metric units."""

    low: float
    high: float
    method: str


def _cells(codes: np.ndarray, k: int, counts: np.ndarray) -> np.ndarray:
    """Sum multinomial draws (B, m) into confusion cells (B, k*k); ``codes`` are the cell ids."""
    order = np.argsort(codes, kind="mergesort")
    codes, counts = codes[order], counts[:, order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out = np.zeros((counts.shape[0], k * k), dtype=np.int64)
    out[:, codes[starts]] = np.add.reduceat(counts, starts, axis=1)
    return out


def bootstrap_count_intervals(
    y: np.ndarray,
    baseline: np.ndarray,
    candidate: np.ndarray,
    task: Task,
    *,
    seed: int,
    resamples: int = 2000,
    confidence: float = 0.95,
) -> dict[str, Interval]:
    """Percentile intervals of the paired differences of accuracy, precision, recall and F1."""
    k = len(task.classes)
    joint, frequency = np.unique((y * k + baseline) * k + candidate, return_counts=True)
    rng = np.random.Generator(np.random.PCG64(seed))
    draws = rng.multinomial(len(y), frequency / len(y), size=resamples)
    truth, base_pred, cand_pred = joint // (k * k), (joint // k) % k, joint % k
    base_cm = _cells(truth * k + base_pred, k, draws).reshape(resamples, k, k)
    cand_cm = _cells(truth * k + cand_pred, k, draws).reshape(resamples, k, k)
    base_values = count_metrics(base_cm, task.binary)
    cand_values = count_metrics(cand_cm, task.binary)
    tail = (1.0 - confidence) / 2.0
    intervals = {}
    for name in COUNT_METRICS:
        low, high = np.quantile(cand_values[name] - base_values[name], [tail, 1.0 - tail])
        intervals[name] = Interval(float(low), float(high), BOOTSTRAP)
    return intervals


def delong_auroc_interval(
    y: np.ndarray,
    baseline_scores: np.ndarray,
    candidate_scores: np.ndarray,
    task: Task,
    *,
    confidence: float = 0.95,
) -> Interval | None:
    """Normal interval of the paired AUROC difference from DeLong's components; None if undefined."""
    classes = auroc_classes(y, task)
    if not classes:
        return None
    influence = np.zeros(len(y), dtype=float)
    delta = 0.0
    for k in classes:
        positive = y == k
        base10, base01 = placements(baseline_scores[:, k], positive)
        cand10, cand01 = placements(candidate_scores[:, k], positive)
        theta = float(cand10.mean() - base10.mean())
        delta += theta / len(classes)
        influence[positive] += (cand10 - base10 - theta) / (len(cand10) * len(classes))
        influence[~positive] += (cand01 - base01 - theta) / (len(cand01) * len(classes))
    half = NormalDist().inv_cdf(0.5 + confidence / 2.0) * float(np.sqrt(np.sum(influence**2)))
    return Interval(delta - half, delta + half, DELONG)
