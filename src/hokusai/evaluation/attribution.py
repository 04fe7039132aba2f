"""Attribute a candidate's improvement to its contributions: players, seed noise, Shapley values
within the retrain budget, weights from the values and their errors, and the evidence the report
carries.

Players are the contributions with surviving rows (the others get 0 and cost nothing). The full
coalition is the candidate the pipeline already trained (free); the empty coalition is a seeded
clone on base only (free when the pipeline already fitted it: a sampled run's refit baseline).

Seed noise is spent only where there is some: the full coalition is retrained with one other seed
(the probe); the same utility means the model ignores its seed (floor 0, no more noise retrains),
otherwise it is retrained with up to ``noise_seeds`` other seeds in all and the floor is the standard
deviation of those utilities, but never with so many that exact Shapley would no longer fit.
Every fit counts toward the budget, so ``retrains`` never exceeds it.

Exact Shapley whenever every coalition and the probe fit the budget (n <= 7 at the default 128);
otherwise, while 3 fits per player fit (the singletons, their complements and n/2 drawn pairs),
``DEFAULT_SAMPLED`` (Shapley values of a Gaussian-process surrogate, chosen by measured error against
brute force: docs/benchmarks.md) up to ``GP_MAX_PLAYERS`` players and kernel Shapley beyond, else MSR
Banzhaf (the only estimator that gives every one of many players a value and a standard error on a
small budget).
A single player needs no retrain: its value is the run's lift.

Each value's total standard error combines the estimator's and the seed noise's (the floor times the
estimator's gain on independent utility noise), and a contribution is paid only when its value is
more than twice that above zero (``weights``).

Utilities are the primary metric in its delta units, higher is better (AUROC in pp, -RMSE in the
target's units: ``scoring.utility``), so values, standard errors, the noise floor and the tolerance are
in those units too (the ``*_pp`` names: percentage points for shares, the metric's units otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hokusai.config import DEFAULT_VALUATION_BUDGET
from hokusai.errors import InvalidInput
from hokusai.evaluation.executor import Fit, RetrainProblem, open_executor
from hokusai.evaluation.valuation import (
    GP_MAX_PLAYERS,
    Coalition,
    Method,
    Stop,
    Utilities,
    estimate,
    exact_cost,
    noise_floor,
)
from hokusai.evaluation.weights import DISTINGUISHABLE_Z, Weights, weights_from_values

DEFAULT_BUDGET = DEFAULT_VALUATION_BUDGET
DEFAULT_NOISE_SEEDS = 3
DEFAULT_TOLERANCE_PP = 0.1
DEFAULT_SAMPLED = Method.GP
METHODS = ("auto", *(m.value for m in Method if m is not Method.SINGLE))
EXACT, ESTIMATED = "exact", "estimated"
KERNEL_FITS_PER_PLAYER = 3  # the singletons and their complements, and half as many drawn pairs to err by

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
    """Total standard error per value: the estimator's and the seed noise's, combined."""
    weights: Weights
    budget: int
    estimator_stderr_pp: list[float | None] = field(default_factory=list)
    seed_stderr_pp: list[float | None] = field(default_factory=list)
    coalitions: list[int] = field(default_factory=list)
    """Fitted coalitions (the full one included) that hold each contribution."""
    deterministic: bool | None = None
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

    @property
    def value_method(self) -> str | None:
        """``exact`` (every coalition, or a single player) or ``estimated`` (sampled)."""
        if self.method is None:
            return None
        whole = self.method in (Method.EXACT, Method.SINGLE) or self.stopped is Stop.EXACT
        return EXACT if whole else ESTIMATED

    def contribution(self, i: int) -> dict[str, Any]:
        """Contribution ``i``'s valuation evidence for the report: value ± total error (and its two
        parts), how it was computed, the retrains, whether it is paid and why."""

        def at(items: list[Any]) -> Any:
            return items[i] if items else None

        return {
            "method": self.value_method if self.players[i] else None,
            "value_pp": self.values_pp[i],
            "stderr_pp": self.stderr_pp[i],
            "estimator_stderr_pp": at(self.estimator_stderr_pp),
            "seed_stderr_pp": at(self.seed_stderr_pp),
            "retrains": self.retrains,
            "coalitions": at(self.coalitions),
            "paid": self.weights.paid[i],
            "reason": self.weights.reasons[i].value,
            "weight_bps": self.weights.bps[i],
        }

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
            "deterministic": self.deterministic,
            "payout_rule": f"paid when value - {DISTINGUISHABLE_Z:g} x stderr > 0",
            "seeds": self.seeds,
            "seed_utilities": self.seed_utilities,
            "empty_coalition_utility": self.empty_utility,
            "full_coalition_utility": self.full_utility,
            "efficiency": self.efficiency(),
            "weights_rule": self.weights.method.value,
            "attribution_inconclusive": self.inconclusive,
        }


def probes(config: ValuationConfig) -> int:
    """Retrains of the full coalition with another seed that tell a deterministic model (0: floor off)."""
    return 1 if config.noise_seeds > 0 else 0


def choose_method(config: ValuationConfig, players: int, known: list[Coalition]) -> Method:
    """Exact Shapley when every coalition and the noise probe fit the budget; else, while the
    singletons, their complements and n/2 drawn pairs fit what is left, the Gaussian-process
    surrogate's Shapley values up to ``GP_MAX_PLAYERS`` players and kernel Shapley beyond; else MSR
    Banzhaf."""
    exact_fits = exact_cost(players, known) + probes(config)
    if config.method == "auto":
        if exact_fits <= config.budget:
            return Method.EXACT
        left = config.budget - config.noise_seeds - (0 if frozenset() in known else 1)
        if left < KERNEL_FITS_PER_PLAYER * players:
            return Method.BANZHAF
        return DEFAULT_SAMPLED if players <= GP_MAX_PLAYERS else Method.KERNEL
    method = Method(config.method)
    if method is Method.GP and players > GP_MAX_PLAYERS:
        raise InvalidInput(
            f"gp_shapley values at most {GP_MAX_PLAYERS} contributions, not {players}: "
            "use kernel_shapley or auto",
            code="valuation_method_unsuitable",
        )
    if method is Method.EXACT and exact_fits > config.budget:
        raise InvalidInput(
            f"exact Shapley of {players} contributions needs {exact_fits} retrains, "
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
        errors: list[float | None] = [0.0 if p else None for p in contributions]
        return Attribution(
            method=Method.SINGLE if players else None,
            players=list(contributions),
            values_pp=values,
            stderr_pp=errors,
            weights=weights_from_values(values, stderr_pp=errors, players=contributions, accepted=accepted),
            budget=config.budget,
            estimator_stderr_pp=errors,
            seed_stderr_pp=errors,
            coalitions=[1 if p else 0 for p in contributions],
            tolerance_pp=config.tolerance_pp,
            full_utility=full_utility,
        )
    full, empty = frozenset(range(players)), frozenset[int]()
    known = {full: full_utility} | ({} if empty_utility is None else {empty: empty_utility})
    method = choose_method(config, players, list(known))
    exact_fits = exact_cost(players, known)
    probe = probes(config)
    first = [Fit(tuple(range(players)), seed + 1)] * probe
    first += [Fit((), seed)] if empty_utility is None else []
    planned = [exact_fits + probe if method is Method.EXACT else config.budget]
    count = [0]

    def done() -> None:
        count[0] += 1
        if progress is not None:
            progress(count[0], planned[0])

    with open_executor(problem, config.workers, config.dask_scheduler) as executor:
        results = executor.run(first, done)
        seed_utilities = [full_utility, *results[:probe]]
        if empty_utility is None:
            known[empty] = results[-1]
        deterministic = probe == 0 or seed_utilities[1] == full_utility
        if not deterministic:
            more = config.noise_seeds - probe
            if method is Method.EXACT:  # the seeds never push an exact computation into sampling
                more = min(more, config.budget - exact_fits - probe)
                planned[0] = exact_fits + probe + more
            reseeded = [Fit(tuple(range(players)), seed + 1 + probe + j) for j in range(more)]
            seed_utilities += executor.run(reseeded, done)
        floor = noise_floor(seed_utilities)
        noise_retrains = len(seed_utilities) - 1

        def evaluate(coalitions: Sequence[Coalition]) -> list[float]:
            return executor.run([Fit(tuple(sorted(c)), seed) for c in coalitions], done)

        left = config.budget - noise_retrains - (1 if empty_utility is None else 0)
        utilities = Utilities(evaluate, left, known)
        result = estimate(
            method, players, utilities, seed=seed, tolerance=config.tolerance_pp, truncation=floor
        )
        description = executor.description
    seed_errors = [floor * g for g in result.noise_gain] if result.noise_gain else [0.0] * players
    totals = [
        None if e is None else math.sqrt(e**2 + s**2) for e, s in zip(result.stderr, seed_errors, strict=True)
    ]
    in_coalitions = [sum(1 for c in utilities.cache if i in c) for i in range(players)]
    spread = _spread(contributions)
    values_pp = spread(result.values)
    stderr_pp = spread(totals)
    return Attribution(
        method=method,
        players=list(contributions),
        values_pp=values_pp,
        stderr_pp=stderr_pp,
        weights=weights_from_values(values_pp, stderr_pp=stderr_pp, players=contributions, accepted=accepted),
        budget=config.budget,
        estimator_stderr_pp=spread(result.stderr),
        seed_stderr_pp=spread(seed_errors),
        coalitions=[c or 0 for c in spread(in_coalitions)],
        deterministic=deterministic,
        coalition_retrains=utilities.retrains + (1 if empty_utility is None else 0),
        noise_retrains=noise_retrains,
        samples=result.samples,
        stopped=result.stopped,
        estimator=result.estimator,
        tolerance_pp=config.tolerance_pp,
        noise_floor_pp=floor,
        seeds=[seed + j for j in range(noise_retrains + 1)],
        seed_utilities=seed_utilities,
        empty_utility=known[empty],
        full_utility=full_utility,
        executor=description,
    )


def _spread(contributions: list[bool]) -> Callable[[Sequence[Any]], list[Any]]:
    """Per-player items laid out per contribution (``None`` for the contributions with no rows)."""

    def spread(items: Sequence[Any]) -> list[Any]:
        it = iter(items)
        return [next(it) if p else None for p in contributions]

    return spread
