"""Semivalue estimators on synthetic games, checked against Shapley values by brute force."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from scipy.stats import spearmanr

from hokusai.errors import InvalidInput
from hokusai.evaluation.valuation import (
    Coalition,
    Method,
    Stop,
    Utilities,
    estimate,
    exact_cost,
    exact_shapley,
    gp_shapley,
    kernel_plan,
    kernel_shapley,
    msr_banzhaf,
    noise_floor,
    permutation_shapley,
)

Game = Callable[[Coalition], float]


def brute_force_shapley(players: int, game: Game) -> list[float]:
    """The definition: each player's marginal contribution averaged over every ordering."""
    totals = [0.0] * players
    for order in itertools.permutations(range(players)):
        coalition: set[int] = set()
        for player in order:
            before = game(frozenset(coalition))
            coalition.add(player)
            totals[player] += game(frozenset(coalition)) - before
    return [t / math.factorial(players) for t in totals]


def additive(weights: Sequence[float]) -> Game:
    return lambda s: sum(weights[i] for i in s)


def saturating(weights: Sequence[float], copies: dict[int, int] | None = None) -> Game:
    """A model-like utility: diminishing returns, and a player that is a copy of another adds
    nothing once the original is in (and the other way round)."""
    copies = copies or {}

    def game(s: Coalition) -> float:
        distinct = {copies.get(i, i) for i in s}
        return 0.7 + 0.2 * (1 - math.exp(-sum(weights[i] for i in distinct)))

    return game


class Counted:
    """An ``evaluate`` that records every coalition it is asked to fit."""

    def __init__(self, game: Game, noise: float = 0.0, seed: int = 0) -> None:
        self.game, self.calls = game, Counter[Coalition]()
        self.noise, self.seed = noise, seed

    def __call__(self, coalitions: Sequence[Coalition]) -> list[float]:
        self.calls.update(coalitions)
        return [self.game(c) + self._noise(c) for c in coalitions]

    def _noise(self, coalition: Coalition) -> float:
        if not self.noise:
            return 0.0
        key = sum(1 << i for i in coalition) + self.seed * 7919
        return float(np.random.default_rng(key).normal(0, self.noise))


def utilities(game: Game, players: int, budget: int, **kwargs: float) -> tuple[Utilities, Counted]:
    counted = Counted(game, **kwargs)  # type: ignore[arg-type]
    full = frozenset(range(players))
    return Utilities(counted, budget, {full: counted([full])[0]}), counted


WEIGHTS = [0.9, 0.5, 0.3, 0.05, 0.0, 0.6, 0.2, 0.1]


def test_exact_shapley_equals_the_brute_force_definition() -> None:
    game = saturating(WEIGHTS[:6], copies={5: 0})
    cache, _ = utilities(game, 6, budget=64)
    result = exact_shapley(6, cache)
    assert result.values == pytest.approx(brute_force_shapley(6, game), abs=1e-12)
    assert result.method is Method.EXACT and result.stopped is Stop.EXACT


def test_exact_shapley_is_efficient_values_sum_to_the_full_lift() -> None:
    game = saturating(WEIGHTS[:5])
    cache, _ = utilities(game, 5, budget=64)
    assert sum(exact_shapley(5, cache).values) == pytest.approx(game(frozenset(range(5))) - game(frozenset()))


def test_two_players_carrying_the_same_information_share_its_value() -> None:
    game = saturating([0.8, 0.8, 0.3], copies={1: 0})
    cache, _ = utilities(game, 3, budget=8)
    values = exact_shapley(3, cache).values
    assert values[0] == pytest.approx(values[1]) and values[0] > 0


def test_exact_shapley_fits_every_coalition_once_except_the_known_full_one() -> None:
    cache, counted = utilities(saturating(WEIGHTS[:4]), 4, budget=64)
    exact_shapley(4, cache)
    assert cache.retrains == exact_cost(4, [frozenset(range(4))]) == 15
    assert max(counted.calls.values()) == 1


def test_asking_for_more_retrains_than_the_budget_has_is_refused() -> None:
    cache, _ = utilities(additive(WEIGHTS[:5]), 5, budget=10)
    with pytest.raises(RuntimeError, match="budget"):
        exact_shapley(5, cache)


@pytest.mark.parametrize("method", [Method.PERMUTATION, Method.BANZHAF])
def test_sampled_estimators_never_exceed_the_budget_and_never_fit_a_coalition_twice(method: Method) -> None:
    cache, counted = utilities(saturating(WEIGHTS), 8, budget=40)
    result = estimate(method, 8, cache, seed=1, tolerance=0.0)
    assert cache.retrains <= 40 and result.stopped is Stop.BUDGET
    assert max(counted.calls.values()) == 1


@pytest.mark.parametrize("method", [Method.PERMUTATION, Method.BANZHAF])
@pytest.mark.parametrize("players", [7, 8])
def test_sampled_values_rank_like_exact_shapley_at_the_default_budget(method: Method, players: int) -> None:
    game = saturating(WEIGHTS[:players])
    exact = brute_force_shapley(players, game)
    correlations = []
    for seed in range(10):
        cache, _ = utilities(game, players, budget=61, noise=0.0005, seed=seed)
        values = estimate(method, players, cache, seed=seed, tolerance=0.0).values
        correlations.append(spearmanr(values, exact).statistic)
    assert np.median(correlations) >= 0.9


def test_permutation_values_are_within_a_few_standard_errors_of_the_exact_ones() -> None:
    game = saturating(WEIGHTS[:6])
    exact = brute_force_shapley(6, game)
    cache, _ = utilities(game, 6, budget=64)
    result = permutation_shapley(6, cache, seed=5, tolerance=0.0)
    for value, se, truth in zip(result.values, result.stderr, exact, strict=True):
        assert se is not None
        assert abs(value - truth) <= 4 * se + 1e-9


def test_least_squares_banzhaf_recovers_an_additive_game_exactly_from_a_sample() -> None:
    weights = [0.03, 0.01, 0.0, 0.02, -0.01, 0.005]
    cache, _ = utilities(additive(weights), 6, budget=20)  # 20 of the 64 coalitions
    result = msr_banzhaf(6, cache, seed=0, tolerance=0.0)
    assert result.estimator == "least_squares"
    assert result.values == pytest.approx(weights, abs=1e-12)


def test_with_fewer_samples_than_twice_the_players_banzhaf_is_a_difference_of_means() -> None:
    cache, _ = utilities(additive(list(np.linspace(0, 0.02, 40))), 40, budget=60)
    result = msr_banzhaf(40, cache, seed=0, tolerance=0.0)
    assert result.estimator == "difference_of_means" and result.samples < 82


def test_fifty_players_get_a_value_and_a_standard_error_within_sixty_four_retrains() -> None:
    weights = list(np.linspace(0, 0.02, 50))
    cache, _ = utilities(additive(weights), 50, budget=64, noise=0.001)
    result = msr_banzhaf(50, cache, seed=0, tolerance=0.0)
    assert cache.retrains <= 64
    assert all(e is not None and e > 0 for e in result.stderr)
    assert spearmanr(result.values, weights).statistic > 0.5


@pytest.mark.parametrize("method", [Method.PERMUTATION, Method.BANZHAF])
def test_sampling_stops_once_every_standard_error_is_below_the_tolerance(method: Method) -> None:
    cache, _ = utilities(additive(WEIGHTS), 8, budget=1000, noise=0.0001)
    result = estimate(method, 8, cache, seed=0, tolerance=0.01)
    assert result.stopped is Stop.TOLERANCE
    assert cache.retrains < 1000
    assert all(e is not None and e <= 0.01 for e in result.stderr)


def test_truncation_walks_more_permutations_on_the_same_budget() -> None:
    game = saturating([3.0, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001])
    full_walks, _ = utilities(game, 8, budget=60)
    cut_walks, _ = utilities(game, 8, budget=60)
    untruncated = permutation_shapley(8, full_walks, seed=0, tolerance=0.0, truncation=0.0)
    truncated = permutation_shapley(8, cut_walks, seed=0, tolerance=0.0, truncation=0.02)
    assert truncated.samples > untruncated.samples
    assert truncated.values[0] == max(truncated.values)


@pytest.mark.parametrize("method", [Method.PERMUTATION, Method.BANZHAF])
def test_the_same_seed_gives_the_same_values_however_the_fits_are_batched(method: Method) -> None:
    game = saturating(WEIGHTS)
    whole, _ = utilities(game, 8, budget=50, noise=0.001)

    def one_by_one(coalitions: Sequence[Coalition]) -> list[float]:
        counted = Counted(game, noise=0.001)
        return [counted([c])[0] for c in reversed(coalitions)][::-1]

    split = Utilities(one_by_one, 50, dict(whole.cache))
    first = estimate(method, 8, whole, seed=9, tolerance=0.0)
    second = estimate(method, 8, split, seed=9, tolerance=0.0)
    assert first == second


def test_the_noise_floor_is_zero_for_a_model_that_ignores_its_seed() -> None:
    assert noise_floor([0.91, 0.91, 0.91, 0.91]) == 0.0


def test_the_noise_floor_is_the_standard_deviation_of_the_reseeded_utilities() -> None:
    assert noise_floor([0.90, 0.92, 0.91, 0.93]) == pytest.approx(np.std([0.90, 0.92, 0.91, 0.93], ddof=1))


def with_empty(game: Game, players: int, budget: int, **kwargs: float) -> tuple[Utilities, Counted]:
    """Utilities that know the full and the empty coalition (as ``attribute`` leaves them)."""
    cache, counted = utilities(game, players, budget, **kwargs)
    cache.cache[frozenset()] = game(frozenset())
    return cache, counted


def generated_game(players: int, seed: int) -> Game:
    """A model-like game: gamma-distributed sizes, one player worth nothing, one a copy of another."""
    rng = np.random.default_rng(seed)
    weights = rng.gamma(0.7, 0.4, players)
    weights[rng.integers(players)] = 0.0
    return saturating(list(weights), copies={players - 1: 0} if seed % 2 else None)


def shares_bps(values: Sequence[float]) -> np.ndarray:
    positive = np.maximum(np.asarray(values), 0.0)
    return positive / positive.sum() * 10_000


@pytest.mark.parametrize("players", [3, 4, 5, 6, 7])
def test_kernel_shapley_with_every_coalition_is_exact_shapley(players: int) -> None:
    game = generated_game(players, players)
    cache, counted = with_empty(game, players, budget=2**players)
    result = kernel_shapley(players, cache, seed=0)
    assert result.values == pytest.approx(brute_force_shapley(players, game), abs=1e-12)
    assert result.stopped is Stop.EXACT and result.stderr == [0.0] * players
    assert cache.retrains == 2**players - 2 and max(counted.calls.values()) == 1


@pytest.mark.parametrize("players", [8, 9, 10])
def test_kernel_shapley_is_efficient_within_budget_and_close_to_brute_force(players: int) -> None:
    """Generated games, default budget (62 coalitions left): values sum to the lift exactly, no
    coalition is fitted twice, and the basis points are within 500 of exact Shapley's (mean 200)."""
    worst, means = [], []
    for seed in range(3):
        game = generated_game(players, seed)
        exact = exact_shapley(players, with_empty(game, players, budget=2**players)[0]).values
        cache, counted = with_empty(game, players, budget=62)
        result = kernel_shapley(players, cache, seed=seed)
        assert sum(result.values) == pytest.approx(game(frozenset(range(players))) - game(frozenset()))
        assert cache.retrains <= 62 and max(counted.calls.values()) == 1
        assert all(e is not None and e > 0 for e in result.stderr)
        error = np.abs(shares_bps(result.values) - shares_bps(exact))
        worst.append(error.max())
        means.append(error.mean())
    assert max(worst) <= 500 and np.mean(means) <= 200


def test_kernel_standard_errors_cover_the_error_against_brute_force() -> None:
    misses, total = 0, 0
    for seed in range(4):
        game = generated_game(10, seed)
        exact = exact_shapley(10, with_empty(game, 10, budget=1024)[0]).values
        result = kernel_shapley(10, with_empty(game, 10, budget=62)[0], seed=seed)
        for value, se, truth in zip(result.values, result.stderr, exact, strict=True):
            total += 1
            misses += abs(value - truth) > 3 * (se or 0.0)
    assert misses <= total * 0.1


def test_kernel_shapley_beats_the_other_estimators_at_the_default_budget() -> None:
    """The measured reason it is the default (more in benchmarks/valuation.py)."""
    errors: dict[Method, list[float]] = {m: [] for m in (Method.KERNEL, Method.PERMUTATION, Method.BANZHAF)}
    for seed in range(4):
        game = generated_game(9, seed)
        exact = shares_bps(exact_shapley(9, with_empty(game, 9, budget=512)[0]).values)
        for method, found in errors.items():
            values = estimate(method, 9, with_empty(game, 9, budget=62)[0], seed=seed, tolerance=0.0).values
            found.append(float(np.abs(shares_bps(values) - exact).mean()))
    assert np.mean(errors[Method.KERNEL]) < min(
        np.mean(errors[Method.PERMUTATION]), np.mean(errors[Method.BANZHAF])
    )


@pytest.mark.parametrize("players", [8, 10])
def test_gp_shapley_is_efficient_within_budget_and_close_to_brute_force(players: int) -> None:
    """Generated games, 158 coalitions (the default budget less the probe and the base-only model):
    values sum to the lift exactly, no coalition is fitted twice, each error is within 3 standard
    errors, and the basis points are within 500 of exact Shapley's (mean 200)."""
    worst, means, misses = [], [], 0
    for seed in range(3):
        game = generated_game(players, seed)
        exact = exact_shapley(players, with_empty(game, players, budget=2**players)[0]).values
        cache, counted = with_empty(game, players, budget=158)
        result = gp_shapley(players, cache, seed=seed)
        assert sum(result.values) == pytest.approx(game(frozenset(range(players))) - game(frozenset()))
        assert cache.retrains <= 158 and max(counted.calls.values()) == 1
        assert all(e is not None and e > 0 for e in result.stderr)
        found = zip(result.values, exact, result.stderr, strict=True)
        misses += sum(abs(v - t) > 3 * (e or 0.0) for v, t, e in found)
        error = np.abs(shares_bps(result.values) - shares_bps(exact))
        worst.append(error.max())
        means.append(error.mean())
    assert max(worst) <= 500 and np.mean(means) <= 200
    assert misses <= 3 * players * 0.1


def test_gp_shapley_beats_kernel_shapley_on_the_same_coalitions() -> None:
    """The measured reason it is the default below 15 players (more in benchmarks/valuation.py)."""
    gp, kernel = [], []
    for seed in range(4):
        game = generated_game(10, seed)
        exact = shares_bps(exact_shapley(10, with_empty(game, 10, budget=1024)[0]).values)
        for method, found in ((Method.GP, gp), (Method.KERNEL, kernel)):
            values = estimate(method, 10, with_empty(game, 10, budget=62)[0], seed=seed, tolerance=0.0).values
            found.append(float(np.abs(shares_bps(values) - exact).mean()))
    assert np.mean(gp) < np.mean(kernel)


def test_gp_shapley_refuses_more_players_than_its_table_holds() -> None:
    with pytest.raises(InvalidInput, match="at most 14"):
        gp_shapley(15, with_empty(additive([1.0] * 15), 15, budget=62)[0], seed=0)


def test_the_kernel_plan_takes_whole_sizes_first_then_spreads_by_kernel_mass() -> None:
    assert kernel_plan(10, 31) == {1: 10, 2: 8, 3: 6, 4: 5, 5: 2}  # mass 1.125 : .857 : .75 : .36
    assert kernel_plan(6, 31) == {1: 6, 2: 15, 3: 10}  # every pair
    assert sum(kernel_plan(12, 5).values()) == 5  # too few for the singletons: all drawn


@pytest.mark.parametrize("players", [4, 6])
def test_the_seed_noise_gain_is_the_spread_of_a_value_under_independent_utility_noise(players: int) -> None:
    """Re-noise every utility 400 times: each value's spread is sigma times its ``noise_gain``."""
    game = generated_game(players, 1)
    sigma = 0.01
    for method in (Method.EXACT, Method.KERNEL):
        draws = []
        for k in range(400):
            rng = np.random.default_rng(k)
            noisy: dict[Coalition, float] = {}

            def noisy_game(c: Coalition, rng: np.random.Generator = rng, seen: dict = noisy) -> float:
                if c not in seen:
                    seen[c] = game(c) + float(rng.normal(0, sigma))
                return seen[c]

            cache, _ = with_empty(noisy_game, players, budget=2**players if method is Method.EXACT else 20)
            result = estimate(method, players, cache, seed=3, tolerance=0.0)
            draws.append(result.values)
        assert result.noise_gain is not None
        spread = np.std(draws, axis=0, ddof=1)
        assert spread == pytest.approx(sigma * np.array(result.noise_gain), rel=0.2)
