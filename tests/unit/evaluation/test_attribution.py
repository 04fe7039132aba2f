"""Attribution: players, noise floor, budget accounting, method choice, progress, efficiency."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from hokusai.errors import InvalidInput
from hokusai.evaluation.attribution import Attribution, ValuationConfig, attribute, choose_method
from hokusai.evaluation.executor import Fit, RetrainProblem, utility
from hokusai.evaluation.metrics import task_for
from hokusai.evaluation.valuation import Method

FEATURES = [f"f{i}" for i in range(5)]


def _problem(players: int, estimator: object | None = None) -> RetrainProblem:
    x, y = make_classification(n_samples=600 + 40 * players, n_features=5, n_informative=3, random_state=0)
    frame = pd.DataFrame(x, columns=FEATURES).assign(y=y)
    base, benchmark, rest = frame.iloc[:40], frame.iloc[40:600], frame.iloc[600:]
    task = task_for(frame["y"])
    return RetrainProblem(
        estimator=estimator or LogisticRegression(),
        base=base,
        players=tuple(rest.iloc[40 * i : 40 * (i + 1)] for i in range(players)),
        benchmark=benchmark,
        y=task.indices(benchmark["y"]),
        features=tuple(FEATURES),
        target="y",
        task=task,
        metric="auroc",
    )


def _attribute(problem: RetrainProblem, config: ValuationConfig, **kwargs: object) -> Attribution:
    full = utility(problem, Fit(tuple(range(len(problem.players))), 42))
    options = {"full_utility": full, "baseline_utility": 0.5, "accepted": True, "seed": 42, "config": config}
    return attribute(problem, [True] * len(problem.players), **(options | kwargs))  # type: ignore[arg-type]


def test_exact_shapley_is_chosen_while_every_coalition_fits_the_budget() -> None:
    config = ValuationConfig(budget=64, noise_seeds=3)
    assert choose_method(config, 5, [frozenset(range(5))]) is Method.EXACT  # 31 + 3 <= 64
    assert choose_method(config, 6, [frozenset(range(6))]) is Method.BANZHAF  # 63 + 3 > 64


def test_forcing_exact_shapley_beyond_the_budget_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="needs 66 retrains") as caught:
        choose_method(ValuationConfig(method="exact_shapley"), 6, [frozenset(range(6))])
    assert caught.value.code == "valuation_budget_too_small"


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not one of"):
        ValuationConfig(method="loo")


def test_retrains_count_the_noise_seeds_and_never_exceed_the_budget() -> None:
    result = _attribute(_problem(7), ValuationConfig(budget=20))
    assert result.noise_retrains == 3
    assert result.retrains == result.coalition_retrains + 3 <= 20
    assert all(e is not None for e in result.stderr_pp)


def test_exact_values_sum_to_the_full_lift() -> None:
    result = _attribute(_problem(3), ValuationConfig())
    assert result.method is Method.EXACT and result.retrains == 7 + 3
    assert result.efficiency()["gap_pp"] == pytest.approx(0.0, abs=1e-9)  # type: ignore[index]


def test_progress_counts_every_retrain_against_the_plan() -> None:
    seen: list[tuple[int, int]] = []
    result = _attribute(
        _problem(3), ValuationConfig(), progress=lambda done, planned: seen.append((done, planned))
    )
    assert seen == [(i, 10) for i in range(1, result.retrains + 1)]


def test_a_model_that_uses_its_seed_has_a_noise_floor() -> None:
    result = _attribute(_problem(2, DecisionTreeClassifier(max_features=2)), ValuationConfig())
    assert result.noise_floor_pp is not None and result.noise_floor_pp > 0
    assert result.seeds == [42, 43, 44, 45] and len(result.seed_utilities) == 4


def test_a_known_empty_coalition_is_not_trained_again() -> None:
    problem = _problem(3)
    empty = utility(problem, Fit((), 42))
    assert _attribute(problem, ValuationConfig(), empty_utility=empty).retrains == 6 + 3


def test_a_single_player_needs_no_retrain_and_earns_everything_in_an_accepted_run() -> None:
    problem = _problem(1)
    result = _attribute(problem, ValuationConfig())
    assert (result.method, result.retrains, result.weights.bps) == (Method.SINGLE, 0, [10_000])


def test_contributions_without_rows_are_not_players() -> None:
    problem = _problem(2)
    full = utility(problem, Fit((0, 1), 42))
    result = attribute(
        problem, [True, False, True], full_utility=full, baseline_utility=0.5, accepted=True, seed=42,
        config=ValuationConfig(),
    )  # fmt: skip
    assert result.values_pp[1] is None and result.weights.bps[1] == 0
    assert result.retrains == 3 + 3  # two players: {}, {0}, {1}
