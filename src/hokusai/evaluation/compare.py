"""Compare baseline and candidate on the same benchmark rows: values, deltas and paired intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hokusai.evaluation.intervals import Interval, bootstrap_count_intervals, delong_auroc_interval
from hokusai.evaluation.metrics import METRICS, Predictions, Task, compute_metrics

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class MetricComparison:
    """One metric of both models. ``delta`` is candidate - baseline in metric units (0..1)."""

    name: str
    baseline: float
    candidate: float
    interval: Interval | None

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline

    @property
    def relative_delta(self) -> float:
        """delta / baseline; 0 when the baseline value is 0 (no meaningful ratio)."""
        return self.delta / self.baseline if self.baseline else 0.0

    @property
    def delta_pp(self) -> float:
        """The delta in percentage points."""
        return self.delta * 100.0

    @property
    def ci_pp(self) -> tuple[float, float] | None:
        if self.interval is None:
            return None
        return self.interval.low * 100.0, self.interval.high * 100.0

    @property
    def improvement(self) -> bool:
        return self.delta > 0


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
