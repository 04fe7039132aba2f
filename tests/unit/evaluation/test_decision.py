"""The DeltaOne rule: one reason code per outcome, checked in order; the score is a weighted average."""

from __future__ import annotations

import pytest

from hokusai.errors import InvalidInput
from hokusai.evaluation.compare import MetricComparison
from hokusai.evaluation.decision import Reason, decide, delta_one_score
from hokusai.evaluation.intervals import Interval


def _comparisons(delta: float, low: float, high: float) -> dict[str, MetricComparison]:
    return {
        "auroc": MetricComparison("auroc", 0.80, 0.80 + delta, Interval(low, high, "delong")),
        "accuracy": MetricComparison("accuracy", 0.70, 0.74, Interval(0.01, 0.07, "paired_bootstrap")),
    }


def _decide(delta: float, low: float, high: float, rows: int = 500, **options: float) -> Reason:
    return decide(
        _comparisons(delta, low, high),
        primary_metric="auroc",
        weights={"auroc": 1.0},
        benchmark_rows=rows,
        **options,
    ).reason


def test_improvement_above_threshold_with_interval_above_zero_is_accepted() -> None:
    assert _decide(0.02, 0.005, 0.035) is Reason.ACCEPTED


def test_a_small_benchmark_gives_insufficient_samples_even_with_a_large_delta() -> None:
    assert _decide(0.10, 0.05, 0.15, rows=199) is Reason.INSUFFICIENT_SAMPLES
    assert _decide(0.10, 0.05, 0.15, rows=50, min_benchmark_rows=50) is Reason.ACCEPTED


def test_delta_below_the_threshold_is_rejected_with_its_reason() -> None:
    assert _decide(0.009, 0.001, 0.017) is Reason.DELTA_BELOW_THRESHOLD
    assert _decide(0.009, 0.001, 0.017, threshold_pp=0.5) is Reason.ACCEPTED


def test_an_interval_touching_zero_is_not_significant() -> None:
    assert _decide(0.03, 0.0, 0.06) is Reason.NOT_SIGNIFICANT
    assert _decide(0.03, -0.01, 0.07) is Reason.NOT_SIGNIFICANT


def test_decision_reports_the_primary_delta_and_interval_in_percentage_points() -> None:
    decision = decide(
        _comparisons(0.02, 0.005, 0.035), primary_metric="auroc", weights={"auroc": 1}, benchmark_rows=300
    )
    assert decision.accepted
    assert decision.delta_pp == pytest.approx(2.0)
    assert (decision.ci_low_pp, decision.ci_high_pp) == pytest.approx((0.5, 3.5))


def test_delta_one_score_is_the_weighted_average_of_deltas_in_points() -> None:
    comparisons = _comparisons(0.02, 0.005, 0.035)
    assert delta_one_score(comparisons, {"auroc": 1}) == pytest.approx(2.0)
    assert delta_one_score(comparisons, {"auroc": 1, "accuracy": 3}) == pytest.approx((2.0 + 3 * 4.0) / 4)


def test_weights_naming_an_uncomputed_metric_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="f1"):
        delta_one_score(_comparisons(0.02, 0.0, 0.04), {"f1": 1})
