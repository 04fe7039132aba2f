"""The DeltaOne rule: one reason code per outcome, checked in order; the score is a weighted average."""

from __future__ import annotations

from typing import Any

import pytest

from hokusai.errors import InvalidInput
from hokusai.evaluation.compare import MetricComparison
from hokusai.evaluation.decision import Guardrail, Reason, decide, delta_one_score, minimum_detectable_effect
from hokusai.evaluation.intervals import Interval


def _comparisons(delta: float, low: float, high: float) -> dict[str, MetricComparison]:
    return {
        "auroc": MetricComparison("auroc", 0.80, 0.80 + delta, Interval(low, high, "delong")),
        "accuracy": MetricComparison("accuracy", 0.70, 0.74, Interval(0.01, 0.07, "paired_bootstrap")),
    }


RULES = {"threshold": 1.0, "min_benchmark_rows": 200}


def _decide(delta: float, low: float, high: float, rows: int = 500, **options: Any) -> Reason:
    return decide(
        _comparisons(delta, low, high),
        primary_metric="auroc",
        weights={"auroc": 1.0},
        benchmark_rows=rows,
        **{**RULES, **options},
    ).reason


def test_improvement_above_threshold_with_interval_above_zero_is_accepted() -> None:
    assert _decide(0.02, 0.005, 0.035) is Reason.ACCEPTED


def test_a_small_benchmark_gives_insufficient_samples_even_with_a_large_delta() -> None:
    assert _decide(0.10, 0.05, 0.15, rows=199) is Reason.INSUFFICIENT_SAMPLES
    assert _decide(0.10, 0.05, 0.15, rows=50, min_benchmark_rows=50) is Reason.ACCEPTED


def test_delta_below_the_threshold_is_rejected_with_its_reason() -> None:
    assert _decide(0.009, 0.001, 0.017) is Reason.DELTA_BELOW_THRESHOLD
    assert _decide(0.009, 0.001, 0.017, threshold=0.5) is Reason.ACCEPTED


def test_an_interval_touching_zero_is_not_significant() -> None:
    assert _decide(0.03, 0.0, 0.06) is Reason.NOT_SIGNIFICANT
    assert _decide(0.03, -0.01, 0.07) is Reason.NOT_SIGNIFICANT


def test_decision_reports_the_primary_delta_and_interval_in_percentage_points() -> None:
    decision = decide(
        _comparisons(0.02, 0.005, 0.035), primary_metric="auroc", weights={"auroc": 1}, benchmark_rows=300,
        **RULES,
    )  # fmt: skip
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


def test_a_guardrail_metric_dropping_past_its_limit_refuses_with_the_metric_named() -> None:
    comparisons = {
        **_comparisons(0.05, 0.03, 0.07),
        "recall": MetricComparison("recall", 0.90, 0.70, Interval(-0.25, -0.15, "paired_bootstrap")),
    }
    decision = decide(
        comparisons, primary_metric="auroc", weights={"auroc": 1.0}, benchmark_rows=500,
        guardrails=[Guardrail("recall", max_drop=5.0)], **RULES,
    )  # fmt: skip
    assert decision.reason is Reason.GUARDRAIL_VIOLATED
    (check,) = decision.guardrails
    assert check.metric == "recall" and check.violated
    assert check.drop == pytest.approx(20.0) and (check.drop_low, check.drop_high) == pytest.approx(
        (15.0, 25.0)
    )
    assert "recall dropped by 20 pp [15, 25], more than the 5 pp allowed" in decision.explanation
    relaxed = decide(
        comparisons, primary_metric="auroc", weights={"auroc": 1.0}, benchmark_rows=500,
        guardrails=[Guardrail("recall", max_drop=25.0)], **RULES,
    )  # fmt: skip
    assert relaxed.accepted


def test_a_model_in_its_cooldown_is_refused_with_the_time_left() -> None:
    decision = decide(
        _comparisons(0.05, 0.03, 0.07), primary_metric="auroc", weights={"auroc": 1.0}, benchmark_rows=500,
        cooldown_left_seconds=3600.0, **RULES,
    )  # fmt: skip
    assert decision.reason is Reason.COOLDOWN and decision.cooldown_left_seconds == 3600.0
    assert decision.explanation.endswith("1.00 h left")
    assert _decide(0.05, 0.03, 0.07, cooldown_left_seconds=0.0) is Reason.ACCEPTED


def test_for_an_error_metric_lower_is_better_and_the_threshold_is_in_its_units() -> None:
    rmse = {"rmse": MetricComparison("rmse", 10.0, 8.5, Interval(-2.0, -1.0, "paired_bootstrap"))}
    decision = decide(rmse, primary_metric="rmse", weights={"rmse": 1.0}, benchmark_rows=500,
                      threshold=1.0, min_benchmark_rows=200)  # fmt: skip
    assert decision.accepted and decision.unit == "rmse"
    assert decision.gain == pytest.approx(1.5) and (decision.ci_low, decision.ci_high) == pytest.approx(
        (1.0, 2.0)
    )
    assert decision.delta_pp is None  # not a share: no percentage points
    worse = {"rmse": MetricComparison("rmse", 10.0, 11.0, Interval(0.5, 1.5, "paired_bootstrap"))}
    assert decide(worse, primary_metric="rmse", weights={"rmse": 1.0}, benchmark_rows=500, threshold=0.0,
                  min_benchmark_rows=200).reason is Reason.DELTA_BELOW_THRESHOLD  # fmt: skip


def test_the_minimum_detectable_effect_follows_the_interval_width() -> None:
    narrow = MetricComparison("auroc", 0.8, 0.81, Interval(0.0, 0.02, "delong"))
    wide = MetricComparison("auroc", 0.8, 0.81, Interval(-0.02, 0.04, "delong"))
    mde = minimum_detectable_effect(narrow)
    assert mde == pytest.approx((1.959964 + 0.841621) * 1.0 / 1.959964, rel=1e-4)  # se = 1 pp / z
    assert minimum_detectable_effect(wide) == pytest.approx(3 * mde)
