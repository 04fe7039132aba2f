"""Compare baseline and candidate on the same benchmark rows: values, deltas and paired intervals.

Classification (binary, multiclass) and regression alike; each metric's family, direction and delta
units come from ``families``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hokusai.evaluation.families import MetricInfo, metric
from hokusai.evaluation.intervals import Interval, bootstrap_count_intervals, delong_auroc_interval
from hokusai.evaluation.metrics import METRICS, Predictions, Task, compute_metrics
from hokusai.evaluation.regression import (
    REGRESSION_METRICS,
    RegressionTask,
    regression_intervals,
    regression_metrics,
)

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class MetricComparison:
    """One metric of both models. ``delta`` is candidate - baseline in metric units; ``gain`` is the
    improvement in the metric's delta units (pp for shares), positive when the candidate is better."""

    name: str
    baseline: float
    candidate: float
    interval: Interval | None

    @property
    def info(self) -> MetricInfo:
        return metric(self.name)

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline

    @property
    def relative_delta(self) -> float:
        """delta / baseline; 0 when the baseline value is 0 (no meaningful ratio)."""
        return self.delta / self.baseline if self.baseline else 0.0

    @property
    def gain(self) -> float:
        """The improvement in delta units: positive is better, whichever way the metric points."""
        signed = self.delta if self.info.higher_is_better else -self.delta
        return self.info.units(signed)

    @property
    def gain_interval(self) -> tuple[float, float] | None:
        """The paired interval of the gain, in delta units (low, high)."""
        if self.interval is None:
            return None
        low, high = self.info.units(self.interval.low), self.info.units(self.interval.high)
        return (low, high) if self.info.higher_is_better else (-high, -low)

    @property
    def delta_pp(self) -> float | None:
        """The delta in percentage points (shares only)."""
        return self.delta * 100.0 if self.info.in_pp else None

    @property
    def ci_pp(self) -> tuple[float, float] | None:
        if self.interval is None or not self.info.in_pp:
            return None
        return self.interval.low * 100.0, self.interval.high * 100.0

    @property
    def improvement(self) -> bool:
        return self.gain > 0


def compare_models(
    y: np.ndarray,
    baseline: Predictions,
    candidate: Predictions,
    task: Task,
    *,
    seed: int,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> dict[str, MetricComparison]:
    """Every metric of both models with the paired interval of its difference (``y`` = class indices).

    AUROC is left out when it is undefined on this benchmark (a single class present).
    """
    base_values = compute_metrics(y, baseline, task)
    cand_values = compute_metrics(y, candidate, task)
    intervals: dict[str, Interval | None] = dict(
        bootstrap_count_intervals(
            y, baseline.labels, candidate.labels, task,
            seed=seed, resamples=resamples, confidence=confidence,
        )
    )  # fmt: skip
    intervals["auroc"] = delong_auroc_interval(
        y, baseline.scores, candidate.scores, task, confidence=confidence
    )
    return {
        name: MetricComparison(name, base_values[name], cand_values[name], intervals[name])
        for name in METRICS
        if not math.isnan(base_values[name])
    }


def compare_regressions(
    y: np.ndarray,
    baseline: np.ndarray,
    candidate: np.ndarray,
    task: RegressionTask,
    *,
    seed: int,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> dict[str, MetricComparison]:
    """Every regression metric of both models (predicted values) with the paired bootstrap interval of
    its difference; R2 is left out when undefined (a constant benchmark target)."""
    base_values = regression_metrics(y, baseline, task)
    cand_values = regression_metrics(y, candidate, task)
    intervals = regression_intervals(
        y, baseline, candidate, task, seed=seed, resamples=resamples, confidence=confidence
    )
    return {
        name: MetricComparison(name, base_values[name], cand_values[name], intervals.get(name))
        for name in REGRESSION_METRICS
        if not math.isnan(base_values[name])
    }
