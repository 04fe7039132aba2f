"""Attribute a candidate's improvement to its contributions: players, seed-noise floor, semivalues
within the retrain budget, weights from the values, and the evidence the report carries.

Players are the contributions with surviving rows (the others get 0 and cost nothing). The full
coalition is the candidate the pipeline already trained (free); the empty coalition is a seeded
clone on base only (free when the pipeline already fitted it: a sampled run's refit baseline).
The noise floor retrains the full coalition with ``noise_seeds`` more seeds; those fits count
toward the budget, so ``retrains`` never exceeds it. Exact Shapley is used when every coalition
fits what is left of the budget; otherwise ``DEFAULT_SAMPLED`` (chosen by measurement: see
docs/pipeline.md). A single player needs no retrain: every rule gives it 10000.

Utilities are the primary metric in its delta units, higher is better (AUROC in pp, -RMSE in the
target's units: ``scoring.utility``), so values, standard errors, the noise floor and the tolerance are
in those units too (the ``*_pp`` names: percentage points for shares, the metric's units otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hokusai.errors import InvalidInput
from hokusai.evaluation.executor import Fit, RetrainProblem, open_executor
from hokusai.evaluation.valuation import (
    Coalition,
    Method,
    Stop,
    Utilities,
    estimate,
    exact_cost,
    noise_floor,
)
from hokusai.evaluation.weights import Weights, weights_from_values

DEFAULT_BUDGET = 64
DEFAULT_NOISE_SEEDS = 3
DEFAULT_TOLERANCE_PP = 0.1
DEFAULT_SAMPLED = Method.BANZHAF
METHODS = ("auto", Method.EXACT.value, Method.PERMUTATION.value, Method.BANZHAF.value)

Progress = Callable[[int, int], None]
"""Called with (retrains done, retrains planned) after each fit."""


@dataclass(frozen=True)
class ValuationConfig:
    """How contributions are valued (the first four are run options: they change the result)."""

    budget: int = DEFAULT_BUDGET
    noise_seeds: int = DEFAULT_NOISE_SEEDS
    tolerance_pp: float = DEFAULT_TOLERANCE_PP
    method: str = "auto"
    workers: int = 1
    dask_scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidInput(f"valuation method {self.method!r} is not one of {', '.join(METHODS)}")
        if self.budget < self.noise_seeds + 2:
            raise InvalidInput(
                f"a valuation budget of {self.budget} retrains cannot pay for the {self.noise_seeds} "
                "noise-floor seeds, the base-only model and one coalition: "
                f"give at least {self.noise_seeds + 2}",
                code="valuation_budget_too_small",
            )

    def options(self) -> dict[str, Any]:
        return {
            "valuation_budget": self.budget,
            "valuation_noise_seeds": self.noise_seeds,
            "valuation_tolerance_pp": self.tolerance_pp,
            "valuation_method": self.method,
        }


@dataclass(frozen=True)
class Attribution:
    """Values, errors and weights per contribution (``None`` for non-players) and how they came."""

    method: Method | None
    players: list[bool]
    values_pp: list[float | None]
    stderr_pp: list[float | None]
    weights: Weights
    budget: int
    coalition_retrains: int = 0
    noise_retrains: int = 0
    samples: int = 0
    stopped: Stop | None = None
    estimator: str = ""
    tolerance_pp: float = DEFAULT_TOLERANCE_PP
    noise_floor_pp: float | None = None
    seeds: list[int] = field(default_factory=list)
    seed_utilities: list[float] = field(default_factory=list)
    empty_utility: float | None = None
    full_utility: float | None = None
    executor: str = "in process"

    @property
    def retrains(self) -> int:
        return self.coalition_retrains + self.noise_retrains

    @property
    def inconclusive(self) -> bool:
        return self.weights.inconclusive

    def efficiency(self) -> dict[str, float] | None:
        """Σ values against the full lift (candidate - empty coalition), in pp."""
        if self.empty_utility is None or self.full_utility is None:
            return None
        total = sum(v for v in self.values_pp if v is not None)
        lift = self.full_utility - self.empty_utility
        return {"sum_values_pp": total, "full_lift_pp": lift, "gap_pp": total - lift}

    def report(self) -> dict[str, Any]:
        """The run-level ``valuation`` section of the evaluation report (no timings: deterministic)."""
        return {
            "method": None if self.method is None else self.method.value,
            "estimator": self.estimator,
            "players": sum(self.players),
            "budget": self.budget,
            "retrains": self.retrains,
            "coalition_retrains": self.coalition_retrains,
            "noise_retrains": self.noise_retrains,
            "noise_retrains_count_toward_budget": True,
            "samples": self.samples,
            "stopped": None if self.stopped is None else self.stopped.value,
            "tolerance_pp": self.tolerance_pp,
            "noise_floor_pp": self.noise_floor_pp,
            "seeds": self.seeds,
            "seed_utilities": self.seed_utilities,
            "empty_coalition_utility": self.empty_utility,
            "full_coalition_utility": self.full_utility,
            "efficiency": self.efficiency(),
            "weights_rule": self.weights.method.value,
            "attribution_inconclusive": self.inconclusive,
        }


def choose_method(config: ValuationConfig, players: int, known: list[Coalition]) -> Method:
    """Exact Shapley when every coalition fits the budget left after the noise seeds, else sampled."""
    exact_fits = exact_cost(players, known)
    if config.method == "auto":
        return Method.EXACT if exact_fits + config.noise_seeds <= config.budget else DEFAULT_SAMPLED
    method = Method(config.method)
    if method is Method.EXACT and exact_fits + config.noise_seeds > config.budget:
        raise InvalidInput(
            f"exact Shapley of {players} contributions needs {exact_fits + config.noise_seeds} retrains, "
            f"more than the budget of {config.budget}: raise the budget or use a sampled method",
            code="valuation_budget_too_small",
        )
    return method


def attribute(
    problem: RetrainProblem,
    contributions: list[bool],
    *,
    full_utility: float,
    baseline_utility: float,
    accepted: bool,
    seed: int,
    config: ValuationConfig,
    empty_utility: float | None = None,
    progress: Progress | None = None,
) -> Attribution:
    """Value each contribution (``contributions``: whether it has surviving rows, in order; the
    problem's ``players`` are the frames of those that do, in the same order)."""
    players = sum(contributions)
    if players != len(problem.players):
        raise ValueError("the problem's players are not the contributions with rows")
    if players <= 1:
        single = full_utility - baseline_utility
        values: list[float | None] = [single if p else None for p in contributions]
        return Attribution(
            method=Method.SINGLE if players else None,
            players=list(contributions),
            values_pp=values,
            stderr_pp=[None] * len(contributions),
            weights=weights_from_values(values, contributions, 0.0, accepted),
            budget=config.budget,
            tolerance_pp=config.tolerance_pp,
            full_utility=full_utility,
        )
    full, empty = frozenset(range(players)), frozenset[int]()
    known = {full: full_utility} | ({} if empty_utility is None else {empty: empty_utility})
    method = choose_method(config, players, list(known))
    first = [Fit(tuple(range(players)), seed + j) for j in range(1, config.noise_seeds + 1)]
    if empty_utility is None:
        first.append(Fit((), seed))
    planned = config.budget if method is not Method.EXACT else exact_cost(players, known) + config.noise_seeds
    count = [0]

    def done() -> None:
        count[0] += 1
        if progress is not None:
            progress(count[0], planned)

    with open_executor(problem, config.workers, config.dask_scheduler) as executor:
        results = executor.run(first, done)
        seed_utilities = [full_utility, *results[: config.noise_seeds]]
        if empty_utility is None:
            known[empty] = results[-1]
        floor = noise_floor(seed_utilities)

        def evaluate(coalitions: Sequence[Coalition]) -> list[float]:
            return executor.run([Fit(tuple(sorted(c)), seed) for c in coalitions], done)

        left = config.budget - config.noise_seeds - (1 if empty_utility is None else 0)
        utilities = Utilities(evaluate, left, known)
        result = estimate(
            method, players, utilities, seed=seed, tolerance=config.tolerance_pp, truncation=floor
        )
        description = executor.description
    values_iter = iter(result.values)
    errors_iter = iter(result.stderr)
    values_pp = [next(values_iter) if p else None for p in contributions]
    stderr_pp = [next(errors_iter) if p else None for p in contributions]
    floor_pp = floor
    return Attribution(
        method=method,
        players=list(contributions),
        values_pp=values_pp,
        stderr_pp=stderr_pp,
        weights=weights_from_values(values_pp, contributions, floor_pp, accepted),
        budget=config.budget,
        coalition_retrains=utilities.retrains + (1 if empty_utility is None else 0),
        noise_retrains=config.noise_seeds,
        samples=result.samples,
        stopped=result.stopped,
        estimator=result.estimator,
        tolerance_pp=config.tolerance_pp,
        noise_floor_pp=floor_pp,
        seeds=[seed + j for j in range(config.noise_seeds + 1)],
        seed_utilities=seed_utilities,
        empty_utility=known[empty],
        full_utility=full_utility,
        executor=description,
    )
