"""Paired intervals: the multinomial bootstrap is the row bootstrap; DeLong matches resampling."""

from __future__ import annotations

import numpy as np
import pytest

from hokusai.evaluation.compare import compare_models
from hokusai.evaluation.intervals import bootstrap_count_intervals, delong_auroc_interval
from hokusai.evaluation.metrics import Predictions, Task, compute_metrics

N = 1200


def _pair(k: int, seed: int = 0) -> tuple[np.ndarray, Predictions, Predictions]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, N)

    def model(signal: float) -> Predictions:
        logits = rng.normal(size=(N, k))
        logits[np.arange(N), y] += signal
        scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return Predictions(scores.argmax(axis=1), scores)

    return y, model(1.0), model(1.4)


def _row_bootstrap(y: np.ndarray, a: Predictions, b: Predictions, task: Task, draws: int = 600) -> dict:
    rng = np.random.default_rng(99)
    deltas: dict[str, list[float]] = {"accuracy": [], "f1": [], "auroc": []}
    for _ in range(draws):
        rows = rng.integers(0, len(y), len(y))
        base = compute_metrics(y[rows], Predictions(a.labels[rows], a.scores[rows]), task)
        cand = compute_metrics(y[rows], Predictions(b.labels[rows], b.scores[rows]), task)
        for name in deltas:
            deltas[name].append(cand[name] - base[name])
    return {name: np.array(values) for name, values in deltas.items()}


@pytest.mark.parametrize("k", [2, 3])
def test_multinomial_bootstrap_gives_the_row_bootstrap_interval(k: int) -> None:
    y, a, b = _pair(k)
    task = Task(tuple(range(k)))
    ours = bootstrap_count_intervals(y, a.labels, b.labels, task, seed=1)
    reference = _row_bootstrap(y, a, b, task)
    for name in ("accuracy", "f1"):
        low, high = np.quantile(reference[name], [0.025, 0.975])
        width = high - low
        assert ours[name].low == pytest.approx(low, abs=0.12 * width)
        assert ours[name].high == pytest.approx(high, abs=0.12 * width)


@pytest.mark.parametrize("k", [2, 3])
def test_delong_standard_error_matches_the_bootstrap(k: int) -> None:
    y, a, b = _pair(k, seed=4)
    task = Task(tuple(range(k)))
    interval = delong_auroc_interval(y, a.scores, b.scores, task)
    assert interval is not None
    delong_se = (interval.high - interval.low) / (2 * 1.959963984540054)
    assert delong_se == pytest.approx(_row_bootstrap(y, a, b, task)["auroc"].std(), rel=0.15)


def test_bootstrap_is_reproducible_with_its_seed_and_changes_with_another() -> None:
    y, a, b = _pair(2)
    task = Task((0, 1))
    first = bootstrap_count_intervals(y, a.labels, b.labels, task, seed=7)
    assert first == bootstrap_count_intervals(y, a.labels, b.labels, task, seed=7)
    assert first != bootstrap_count_intervals(y, a.labels, b.labels, task, seed=8)


def test_identical_models_have_a_zero_width_interval_at_zero() -> None:
    y, a, _ = _pair(2)
    comparisons = compare_models(y, a, a, Task((0, 1)), seed=1)
    for comparison in comparisons.values():
        assert comparison.delta == 0
        assert comparison.interval is not None
        assert comparison.interval.low == pytest.approx(0) and comparison.interval.high == pytest.approx(0)


def test_a_better_candidate_has_an_interval_above_zero_on_every_metric() -> None:
    y, a, b = _pair(2)
    comparisons = compare_models(y, a, b, Task((0, 1)), seed=1)
    assert set(comparisons) == {"accuracy", "precision", "recall", "f1", "auroc"}
    assert comparisons["auroc"].interval.method == "delong"
    assert comparisons["accuracy"].interval.method == "paired_bootstrap"
    assert all(c.interval.low > 0 for c in comparisons.values())


def test_auroc_is_left_out_when_the_benchmark_has_one_class() -> None:
    y = np.ones(50, dtype=int)
    p = Predictions(np.ones(50, dtype=int), np.tile([0.2, 0.8], (50, 1)))
    assert "auroc" not in compare_models(y, p, p, Task((0, 1)), seed=0)
