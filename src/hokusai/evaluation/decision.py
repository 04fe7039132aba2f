"""The DeltaOne decision: one rule, one reason code, one score.

DeltaOne is achieved when the benchmark has at least ``min_benchmark_rows`` rows, the primary
metric improved by at least ``threshold_pp`` percentage points, and the lower bound of the paired
95 % interval of that improvement is above 0. The first rule that fails names the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hokusai.errors import InvalidInput
from hokusai.evaluation.compare import MetricComparison

DEFAULT_THRESHOLD_PP = 1.0
DEFAULT_MIN_BENCHMARK_ROWS = 200
COMPUTATION_METHOD = "weighted_average_delta"


class Reason(StrEnum):
    """Outcome reason codes, in the order the rules are checked."""

    NO_CONTRIBUTION_ROWS = "no_contribution_rows"
    INSUFFICIENT_SAMPLES = "insufficient_samples"
    DELTA_BELOW_THRESHOLD = "delta_below_threshold"
    NOT_SIGNIFICANT = "not_significant"
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class Decision:
    """The outcome and the numbers it was decided on (percentage points)."""

    reason: Reason
    delta_one_score: float
    primary_metric: str
    delta_pp: float
    ci_low_pp: float | None
    ci_high_pp: float | None
    threshold_pp: float
    min_benchmark_rows: int
    benchmark_rows: int

    @property
    def accepted(self) -> bool:
        return self.reason is Reason.ACCEPTED


def delta_one_score(comparisons: Mapping[str, MetricComparison], weights: Mapping[str, float]) -> float:
    """Weighted average of the metric deltas in percentage points."""
    missing = sorted(set(weights) - set(comparisons))
    if missing:
        raise InvalidInput(f"metric weights name metrics that were not computed: {', '.join(missing)}")
    total = sum(weights.values())
    if total <= 0:
        raise InvalidInput("metric weights must be >= 0 with a positive sum")
    return sum(comparisons[name].delta_pp * weight for name, weight in weights.items()) / total


def decide(
    comparisons: Mapping[str, MetricComparison],
    *,
    primary_metric: str,
    weights: Mapping[str, float],
    benchmark_rows: int,
    threshold_pp: float = DEFAULT_THRESHOLD_PP,
    min_benchmark_rows: int = DEFAULT_MIN_BENCHMARK_ROWS,
) -> Decision:
    """Apply the DeltaOne rule to the primary metric's paired comparison."""
    if primary_metric not in comparisons:
        raise InvalidInput(f"primary metric {primary_metric!r} could not be computed on this benchmark")
    primary = comparisons[primary_metric]
    ci = primary.ci_pp
    if benchmark_rows < min_benchmark_rows:
        reason = Reason.INSUFFICIENT_SAMPLES
    elif primary.delta_pp < threshold_pp:
        reason = Reason.DELTA_BELOW_THRESHOLD
    elif ci is None or ci[0] <= 0:
        reason = Reason.NOT_SIGNIFICANT
    else:
        reason = Reason.ACCEPTED
    return Decision(
        reason=reason,
        delta_one_score=delta_one_score(comparisons, weights),
        primary_metric=primary_metric,
        delta_pp=primary.delta_pp,
        ci_low_pp=None if ci is None else ci[0],
        ci_high_pp=None if ci is None else ci[1],
        threshold_pp=threshold_pp,
        min_benchmark_rows=min_benchmark_rows,
        benchmark_rows=benchmark_rows,
    )
