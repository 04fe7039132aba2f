"""The DeltaOne decision: one rule, one reason code, one score.

DeltaOne is achieved when the benchmark has at least ``min_benchmark_rows`` rows, the model is out of its
cooldown since its last DeltaOne, no guardrail metric dropped by more than it may, the primary metric's
gain is at least ``threshold`` (in its delta units: pp for shares, the metric's own units otherwise), and
the lower bound of the paired 95 % interval of that gain is above 0. The first rule that fails names the
outcome (``Reason`` lists them in order).

Every decision also states the power of its benchmark: the minimum detectable effect at 80 % power of the
primary metric's gain (two-sided 5 %), from the paired interval's standard error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import NormalDist

from hokusai.errors import InvalidInput
from hokusai.evaluation.compare import CONFIDENCE, MetricComparison
from hokusai.evaluation.families import metric

COMPUTATION_METHOD = "weighted_average_delta"
POWER = 0.80


class Reason(StrEnum):
    """Outcome reason codes, in the order the rules are checked."""

    NO_CONTRIBUTION_ROWS = "no_contribution_rows"
    INSUFFICIENT_SAMPLES = "insufficient_samples"
    COOLDOWN = "cooldown"
    GUARDRAIL_VIOLATED = "guardrail_violated"
    DELTA_BELOW_THRESHOLD = "delta_below_threshold"
    NOT_SIGNIFICANT = "not_significant"
    ACCEPTED = "accepted"


REASON_TEXT = {
    Reason.NO_CONTRIBUTION_ROWS: "no contributed row survived integration (duplicates, near-copies)",
    Reason.INSUFFICIENT_SAMPLES: "the benchmark has fewer rows than the spec's minimum",
    Reason.COOLDOWN: "the model had a DeltaOne less than its cooldown ago",
    Reason.GUARDRAIL_VIOLATED: "a guardrail metric dropped by more than the spec allows",
    Reason.DELTA_BELOW_THRESHOLD: "the primary metric improved by less than the threshold",
    Reason.NOT_SIGNIFICANT: "the improvement's confidence interval includes zero",
    Reason.ACCEPTED: "a DeltaOne: the improvement is real and large enough",
}


@dataclass(frozen=True)
class Guardrail:
    """A secondary metric that may drop by at most ``max_drop`` (its delta units: pp for shares)."""

    metric: str
    max_drop: float


@dataclass(frozen=True)
class GuardrailCheck:
    """A guardrail as measured: the drop (-gain) with its interval, and whether it was too much."""

    metric: str
    max_drop: float
    drop: float
    drop_low: float | None
    drop_high: float | None
    unit: str

    @property
    def violated(self) -> bool:
        return self.drop > self.max_drop


@dataclass(frozen=True)
class Decision:
    """The outcome and the numbers it was decided on (the primary metric's delta units)."""

    reason: Reason
    delta_one_score: float
    primary_metric: str
    gain: float
    ci_low: float | None
    ci_high: float | None
    unit: str
    threshold: float
    min_benchmark_rows: int
    benchmark_rows: int
    guardrails: tuple[GuardrailCheck, ...] = field(default_factory=tuple)
    cooldown_left_seconds: float | None = None
    minimum_detectable_effect: float | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is Reason.ACCEPTED

    @property
    def in_pp(self) -> bool:
        return self.unit == "pp"

    @property
    def delta_pp(self) -> float | None:
        """The primary metric's gain in percentage points (shares only)."""
        return self.gain if self.in_pp else None

    @property
    def ci_low_pp(self) -> float | None:
        return self.ci_low if self.in_pp else None

    @property
    def ci_high_pp(self) -> float | None:
        return self.ci_high if self.in_pp else None

    @property
    def threshold_pp(self) -> float | None:
        return self.threshold if self.in_pp else None

    @property
    def explanation(self) -> str:
        """The reason in words, with the numbers it was decided on (the guardrail's metric and drop with
        its interval, the cooldown's time left, the gain against the threshold)."""
        text = REASON_TEXT[self.reason]
        if self.reason is Reason.GUARDRAIL_VIOLATED:
            parts = [
                f"{c.metric} dropped by {c.drop:.3g} {c.unit}"
                + ("" if c.drop_low is None else f" [{c.drop_low:.3g}, {c.drop_high:.3g}]")
                + f", more than the {c.max_drop:.3g} {c.unit} allowed"
                for c in self.guardrails
                if c.violated
            ]
            return f"{text}: {'; '.join(parts)}"
        if self.reason is Reason.COOLDOWN and self.cooldown_left_seconds is not None:
            return f"{text}: {self.cooldown_left_seconds / 3600:.2f} h left"
        if self.reason is Reason.DELTA_BELOW_THRESHOLD:
            return f"{text}: {self.gain:.3g} {self.unit}, below {self.threshold:.3g} {self.unit}"
        if self.reason is Reason.INSUFFICIENT_SAMPLES:
            return f"{text}: {self.benchmark_rows} rows, the minimum is {self.min_benchmark_rows}"
        return text


def delta_one_score(comparisons: Mapping[str, MetricComparison], weights: Mapping[str, float]) -> float:
    """Weighted average of the metrics' gains in their delta units (pp for shares)."""
    missing = sorted(set(weights) - set(comparisons))
    if missing:
        raise InvalidInput(f"metric weights name metrics that were not computed: {', '.join(missing)}")
    total = sum(weights.values())
    if total <= 0:
        raise InvalidInput("metric weights must be >= 0 with a positive sum")
    return sum(comparisons[name].gain * weight for name, weight in weights.items()) / total


def minimum_detectable_effect(
    comparison: MetricComparison, confidence: float = CONFIDENCE, power: float = POWER
) -> float | None:
    """The smallest true gain this benchmark detects with ``power`` (two-sided test at ``confidence``):
    (z(1 - alpha/2) + z(power)) x the paired standard error, read off the interval as its half-width
    / z(1 - alpha/2)."""
    bounds = comparison.gain_interval
    if bounds is None:
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    standard_error = (bounds[1] - bounds[0]) / (2.0 * z)
    return (z + NormalDist().inv_cdf(power)) * standard_error


def check_guardrails(
    comparisons: Mapping[str, MetricComparison], guardrails: Sequence[Guardrail]
) -> tuple[GuardrailCheck, ...]:
    """Each guardrail's measured drop (-gain, with the interval of the drop)."""
    checks = []
    for guardrail in guardrails:
        comparison = comparisons.get(guardrail.metric)
        if comparison is None:
            raise InvalidInput(
                f"guardrail metric {guardrail.metric!r} could not be computed on this benchmark"
            )
        bounds = comparison.gain_interval
        checks.append(
            GuardrailCheck(
                metric=guardrail.metric,
                max_drop=guardrail.max_drop,
                drop=-comparison.gain,
                drop_low=None if bounds is None else -bounds[1],
                drop_high=None if bounds is None else -bounds[0],
                unit=metric(guardrail.metric).unit,
            )
        )
    return tuple(checks)


def decide(
    comparisons: Mapping[str, MetricComparison],
    *,
    primary_metric: str,
    weights: Mapping[str, float],
    benchmark_rows: int,
    threshold: float,
    min_benchmark_rows: int,
    guardrails: Sequence[Guardrail] = (),
    cooldown_left_seconds: float | None = None,
) -> Decision:
    """Apply the DeltaOne rule to the primary metric's paired comparison (and the guardrails)."""
    if primary_metric not in comparisons:
        raise InvalidInput(f"primary metric {primary_metric!r} could not be computed on this benchmark")
    primary = comparisons[primary_metric]
    ci = primary.gain_interval
    checks = check_guardrails(comparisons, guardrails)
    if benchmark_rows < min_benchmark_rows:
        reason = Reason.INSUFFICIENT_SAMPLES
    elif cooldown_left_seconds is not None and cooldown_left_seconds > 0:
        reason = Reason.COOLDOWN
    elif any(check.violated for check in checks):
        reason = Reason.GUARDRAIL_VIOLATED
    elif primary.gain < threshold:
        reason = Reason.DELTA_BELOW_THRESHOLD
    elif ci is None or ci[0] <= 0:
        reason = Reason.NOT_SIGNIFICANT
    else:
        reason = Reason.ACCEPTED
    return Decision(
        reason=reason,
        delta_one_score=delta_one_score(comparisons, weights),
        primary_metric=primary_metric,
        gain=primary.gain,
        ci_low=None if ci is None else ci[0],
        ci_high=None if ci is None else ci[1],
        unit=primary.info.unit,
        threshold=threshold,
        min_benchmark_rows=min_benchmark_rows,
        benchmark_rows=benchmark_rows,
        guardrails=checks,
        cooldown_left_seconds=cooldown_left_seconds
        if cooldown_left_seconds and cooldown_left_seconds > 0
        else None,
        minimum_detectable_effect=minimum_detectable_effect(primary),
    )
