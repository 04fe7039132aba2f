"""Attribution: players, seed noise, budget accounting, method choice, progress, efficiency, and the
per-contribution evidence; exact Shapley checked against brute force on a real deterministic model."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from hokusai.errors import InvalidInput
from hokusai.evaluation.attribution import (
    DEFAULT_BUDGET,
    Attribution,
    ValuationConfig,
    attribute,
    choose_method,
)
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


def test_exact_shapley_is_chosen_while_every_coalition_and_the_noise_probe_fit_the_budget() -> None:
    config = ValuationConfig(budget=64, noise_seeds=3)
    assert choose_method(config, 6, [frozenset(range(6))]) is Method.EXACT  # 63 + 1 probe <= 64
    assert choose_method(config, 7, [frozenset(range(7))]) is Method.GP  # 127 + 1 > 64
    assert choose_method(config, 14, [frozenset(range(14))]) is Method.GP  # its 2^14 table: the largest
    assert choose_method(config, 15, [frozenset(range(15))]) is Method.KERNEL
    assert choose_method(config, 20, [frozenset(range(20))]) is Method.KERNEL  # 3 x 20 <= 60 left
    assert choose_method(config, 21, [frozenset(range(21))]) is Method.BANZHAF


def test_seven_contributions_are_exact_at_the_default_budget() -> None:
    assert choose_method(ValuationConfig(), 7, [frozenset(range(7))]) is Method.EXACT  # 127 + 1 <= 160
    assert choose_method(ValuationConfig(), 8, [frozenset(range(8))]) is Method.GP


def test_forcing_the_surrogate_beyond_its_table_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="at most 14 contributions") as caught:
        choose_method(ValuationConfig(method="gp_shapley"), 15, [frozenset(range(15))])
    assert caught.value.code == "valuation_method_unsuitable"


def test_forcing_exact_shapley_beyond_the_budget_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="needs 256 retrains") as caught:
        choose_method(ValuationConfig(method="exact_shapley"), 8, [frozenset(range(8))])
    assert caught.value.code == "valuation_budget_too_small"


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not one of"):
        ValuationConfig(method="loo")


def test_retrains_count_the_noise_seeds_and_never_exceed_the_budget() -> None:
    result = _attribute(_problem(7, DecisionTreeClassifier(max_features=2)), ValuationConfig(budget=20))
    assert result.noise_retrains == 3 and not result.deterministic
    assert result.retrains == result.coalition_retrains + 3 <= 20
    assert all(e is not None for e in result.stderr_pp)


def test_exact_values_sum_to_the_full_lift() -> None:
    result = _attribute(_problem(3), ValuationConfig())
    assert result.method is Method.EXACT and result.retrains == 7 + 1
    assert result.efficiency()["gap_pp"] == pytest.approx(0.0, abs=1e-9)  # type: ignore[index]


def test_progress_counts_every_retrain_against_the_plan() -> None:
    seen: list[tuple[int, int]] = []
    result = _attribute(
        _problem(3), ValuationConfig(), progress=lambda done, planned: seen.append((done, planned))
    )
    assert seen == [(i, 8) for i in range(1, result.retrains + 1)]


def test_a_model_that_ignores_its_seed_is_probed_once_and_has_no_floor() -> None:
    result = _attribute(_problem(3), ValuationConfig())
    assert result.deterministic and result.noise_retrains == 1 and result.noise_floor_pp == 0.0
    assert result.seeds == [42, 43] and result.seed_utilities[0] == result.seed_utilities[1]
    assert result.seed_stderr_pp == [0.0, 0.0, 0.0]


def test_a_model_that_uses_its_seed_has_a_noise_floor_that_widens_every_error() -> None:
    result = _attribute(_problem(2, DecisionTreeClassifier(max_features=2)), ValuationConfig())
    assert result.noise_floor_pp is not None and result.noise_floor_pp > 0 and not result.deterministic
    assert result.seeds == [42, 43, 44, 45] and len(result.seed_utilities) == 4
    gain = math.sqrt(2 / 4 * (1 + 1))  # exact Shapley of 2: each value is 1/2 of four utilities, two signs
    assert result.seed_stderr_pp == pytest.approx([result.noise_floor_pp * gain] * 2)
    assert result.stderr_pp == result.seed_stderr_pp  # exact: no estimator error


def test_a_known_empty_coalition_is_not_trained_again() -> None:
    problem = _problem(3)
    empty = utility(problem, Fit((), 42))
    assert _attribute(problem, ValuationConfig(), empty_utility=empty).retrains == 6 + 1


def test_a_single_player_needs_no_retrain_and_earns_everything_in_an_accepted_run() -> None:
    problem = _problem(1)
    result = _attribute(problem, ValuationConfig())
    assert (result.method, result.retrains, result.weights.bps) == (Method.SINGLE, 0, [10_000])
    assert result.contribution(0)["method"] == "exact"


def brute_force(problem: RetrainProblem, seed: int = 42) -> list[float]:
    """Shapley values by the definition: marginals averaged over every ordering, every coalition fitted."""
    players = len(problem.players)
    table = {
        frozenset(c): utility(problem, Fit(c, seed))
        for size in range(players + 1)
        for c in itertools.combinations(range(players), size)
    }
    totals = [0.0] * players
    for order in itertools.permutations(range(players)):
        before: frozenset[int] = frozenset()
        for player in order:
            totals[player] += table[before | {player}] - table[before]
            before = before | {player}
    return [t / math.factorial(players) for t in totals]


def test_six_contributions_at_the_default_budget_are_exact_shapley_to_1e9() -> None:
    """Issue 20: the noise probe must not push 63 coalitions past a 64 budget into sampling."""
    problem = _problem(6)
    result = _attribute(problem, ValuationConfig())
    assert result.method is Method.EXACT and result.retrains == 64 and result.budget == DEFAULT_BUDGET
    tight = _attribute(problem, ValuationConfig(budget=64))
    assert tight.method is Method.EXACT and tight.retrains == 64
    assert tight.values_pp == pytest.approx(brute_force(problem), abs=1e-9)
    assert result.values_pp == pytest.approx(brute_force(problem), abs=1e-9)
    assert all(c["method"] == "exact" for c in map(result.contribution, range(6)))


def test_a_seed_noisy_model_with_six_contributions_stays_exact() -> None:
    """The other noise seeds give way to the coalitions: one probe, and still every coalition."""
    result = _attribute(_problem(6, DecisionTreeClassifier(max_features=2)), ValuationConfig(budget=64))
    assert result.method is Method.EXACT and result.retrains == 64
    assert result.noise_retrains == 1 and result.noise_floor_pp is not None and result.noise_floor_pp > 0


def test_eight_contributions_on_a_real_model_are_near_brute_force_shapley() -> None:
    problem = _problem(8)
    exact = brute_force(problem)
    result = _attribute(problem, ValuationConfig())
    assert result.method is Method.GP and result.retrains <= DEFAULT_BUDGET
    assert sum(v for v in result.values_pp if v is not None) == pytest.approx(sum(exact), abs=1e-9)
    for value, se, truth in zip(result.values_pp, result.stderr_pp, exact, strict=True):
        assert se is not None and abs(value - truth) <= 4 * se + 1e-9  # type: ignore[operator]


def test_each_contribution_carries_its_value_error_method_retrains_and_payout_reason() -> None:
    problem = _problem(2)
    full = utility(problem, Fit((0, 1), 42))
    result = attribute(
        problem, [True, False, True], full_utility=full, baseline_utility=0.5, accepted=True, seed=42,
        config=ValuationConfig(),
    )  # fmt: skip
    evidence = [result.contribution(i) for i in range(3)]
    assert set(evidence[0]) == {
        "method", "value_pp", "stderr_pp", "estimator_stderr_pp", "seed_stderr_pp", "retrains",
        "coalitions", "paid", "reason", "weight_bps",
    }  # fmt: skip
    assert evidence[1] | {"retrains": 0} == {
        "method": None, "value_pp": None, "stderr_pp": None, "estimator_stderr_pp": None,
        "seed_stderr_pp": None, "retrains": 0, "coalitions": 0, "paid": False, "reason": "no_rows",
        "weight_bps": 0,
    }  # fmt: skip
    assert evidence[0]["method"] == "exact" and evidence[0]["retrains"] == result.retrains == 4
    assert evidence[0]["coalitions"] == 2  # {0} and the full one
    assert sum(e["weight_bps"] for e in evidence) == 10_000
    assert all(e["reason"] in ("distinguishable_gain", "indistinguishable_from_zero", "harmful",
                                "inconclusive_equal_split") for e in (evidence[0], evidence[2]))  # fmt: skip


def test_contributions_without_rows_are_not_players() -> None:
    problem = _problem(2)
    full = utility(problem, Fit((0, 1), 42))
    result = attribute(
        problem, [True, False, True], full_utility=full, baseline_utility=0.5, accepted=True, seed=42,
        config=ValuationConfig(),
    )  # fmt: skip
    assert result.values_pp[1] is None and result.weights.bps[1] == 0
    assert result.retrains == 3 + 1  # two players: {}, {0}, {1}, and the noise probe
