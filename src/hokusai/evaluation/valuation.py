"""Group semivalues of contributions: each contribution is one player, a coalition's utility is the
primary metric of a seeded clone trained on base + that coalition and scored on the benchmark.

* ``exact_shapley``: every coalition (used when all of them fit the retrain budget);
* ``gp_shapley``: the exact Shapley values of a Gaussian-process surrogate of the utility, fitted to
  the same paired, size-stratified coalitions as ``kernel_shapley`` (regression-adjusted estimation,
  Witter et al. 2025: a smooth model of u(S) learns the interactions that an additive fit leaves in
  its residuals). Kernel: constant x RBF on the membership indicators + white noise, hyperparameters
  by marginal likelihood (nothing tuned on the benchmark). The surrogate's posterior mean is
  evaluated on all 2^n coalitions (so up to ``GP_MAX_PLAYERS``) with the fitted u(full) and
  u(empty) put back, so the values sum to v(full) - v(empty) exactly; each value is a linear map of
  the fitted utilities, and its standard error is the posterior standard deviation of that map;
* ``kernel_shapley``: Shapley values as the efficiency-constrained weighted least-squares fit of the
  coalitions' utilities (Lundberg & Lee 2017; Covert & Lee 2021), on paired coalitions (S and its
  complement) stratified by size: the sizes whose coalitions all fit are taken whole (the singletons
  and their complements first: the Shapley kernel weighs them most), the rest of the budget is
  spread over the other sizes by their kernel mass and drawn without replacement; each size keeps
  its kernel mass in the fit. Values sum to v(full) - v(empty) exactly; with every coalition the fit
  is exact Shapley. Standard errors by bootstrap over the drawn pairs within each size;
* ``permutation_shapley``: truncated Monte Carlo over random permutations (Ghorbani & Zou 2019);
  a permutation's walk stops once its prefix is within the seed-noise floor of the full coalition
  (the rest of its marginals count as 0);
* ``msr_banzhaf``: Banzhaf values with maximum sample reuse (Wang & Jia 2023): every sampled
  coalition (each player in with probability 1/2) serves every player, in or out. Once there are
  at least twice as many samples as players, the values are the least-squares coefficients of the
  utilities on the players' in/out indicators (with all 2^n coalitions these are exactly the
  Banzhaf values; on a sample they remove the chance imbalance of the other players between the
  "in" and "out" halves, which is most of MSR's error: see docs/pipeline.md), with classical
  least-squares standard errors; before that, the plain difference of means and its error.

The sampled estimators report a standard error per player and stop when every standard error is
below ``tolerance`` or when the next sample would need more retrains than the budget has left.
Utilities are cached: a coalition is never trained twice. Work is planned in fixed rounds that do
not depend on how many workers run them, so one worker, many workers and a Dask cluster give the
same values bit for bit for the same seed.

The samplers are written here, small, after pyDVL's design (samplers that yield coalitions, a
utility cache, semivalue coefficients, stopping criteria on the standard error): pyDVL 0.10 pins
numpy < 2, which the platform cannot take, so it cannot be a dependency.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy.linalg import cho_solve
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, WhiteKernel
from sklearn.gaussian_process.kernels import ConstantKernel as Constant

from hokusai.errors import InvalidInput

Coalition = frozenset[int]
Evaluate = Callable[[Sequence[Coalition]], Sequence[float]]
"""Utilities of coalitions that need a fit, in the order given (the executor runs them)."""

ROUND_PERMUTATIONS = 4  # permutations walked side by side in one round (their steps run in parallel)
ROUND_SUBSETS = 8  # coalitions drawn per round by MSR Banzhaf
MIN_SAMPLES = 2  # a standard error needs two samples per player (per side for Banzhaf)
LEAST_SQUARES_SAMPLES_PER_PLAYER = 2  # regression-adjusted Banzhaf from 2 (n + 1) samples on
MAX_DRAWS_PER_RETRAIN = 20  # guard: draws that only hit the cache cannot go on forever


class Method(StrEnum):
    EXACT = "exact_shapley"
    GP = "gp_shapley"
    KERNEL = "kernel_shapley"
    PERMUTATION = "permutation_shapley"
    BANZHAF = "msr_banzhaf"
    SINGLE = "single_contributor"


class Stop(StrEnum):
    EXACT = "exact"
    TOLERANCE = "tolerance"
    BUDGET = "budget"
    EXHAUSTED = "draws_exhausted"


@dataclass(frozen=True)
class Estimate:
    """Values (metric units) and standard errors per player; ``samples`` = permutations or coalitions."""

    method: Method
    values: list[float]
    stderr: list[float | None]
    samples: int
    stopped: Stop
    estimator: str = ""
    noise_gain: list[float] | None = None
    """Per player, sqrt(sum of squared coefficients of the utilities in its value): a value's
    standard error from seed noise is the utilities' seed noise times this (linear estimators only;
    ``None`` when the sampling standard error already contains the seed noise)."""


class Utilities:
    """The utility cache with its retrain budget: ``known`` coalitions are free, every other one
    costs one fit, counted in ``retrains``; asking for more than ``budget`` is a bug (raises)."""

    def __init__(self, evaluate: Evaluate, budget: int, known: dict[Coalition, float]) -> None:
        self._evaluate = evaluate
        self.budget = budget
        self.cache: dict[Coalition, float] = dict(known)
        self.retrains = 0

    @property
    def remaining(self) -> int:
        return self.budget - self.retrains

    def cost(self, coalitions: Iterable[Coalition]) -> int:
        """How many fits ``coalitions`` need (cached and repeated ones are free)."""
        return len({c for c in coalitions if c not in self.cache})

    def get(self, coalitions: Sequence[Coalition]) -> list[float]:
        missing = list(dict.fromkeys(c for c in coalitions if c not in self.cache))
        if len(missing) > self.remaining:
            raise RuntimeError(f"{len(missing)} retrains asked, {self.remaining} left in the budget")
        if missing:
            for coalition, value in zip(missing, self._evaluate(missing), strict=True):
                self.cache[coalition] = float(value)
            self.retrains += len(missing)
        return [self.cache[c] for c in coalitions]


def exact_cost(players: int, known: Iterable[Coalition]) -> int:
    """Fits exact Shapley needs: every coalition but the ``known`` ones."""
    return 2**players - sum(1 for c in set(known) if len(c) <= players)


def all_coalitions(players: int) -> list[Coalition]:
    return [frozenset(i for i in range(players) if mask >> i & 1) for mask in range(2**players)]


def shapley_coefficient(players: int, size: int) -> float:
    """Weight of the marginal contribution to a coalition of ``size`` others: |S|!(n-|S|-1)!/n!."""
    return 1.0 / (players * math.comb(players - 1, size))


def exact_shapley(players: int, utilities: Utilities) -> Estimate:
    """Shapley values from every coalition (no sampling error: standard errors are 0)."""
    coalitions = all_coalitions(players)
    value = dict(zip(coalitions, utilities.get(coalitions), strict=True))
    values = []
    for i in range(players):
        total = 0.0
        for coalition in coalitions:
            if i not in coalition:
                gain = value[coalition | {i}] - value[coalition]
                total += shapley_coefficient(players, len(coalition)) * gain
        values.append(total)
    gain = math.sqrt(2 / players**2 * sum(1 / math.comb(players - 1, s) for s in range(players)))
    return Estimate(
        Method.EXACT, values, [0.0] * players, len(coalitions), Stop.EXACT, noise_gain=[gain] * players
    )


BOOTSTRAP_RESAMPLES = 200
ENUMERATE_PAIRS_UP_TO = 20_000  # draw a size's pairs from the full list below this, else by rejection


def _pair_capacity(players: int, size: int) -> int:
    """Pairs (S, complement) with |S| = size (a self-paired size n/2 has half as many)."""
    count = math.comb(players, size)
    return count // 2 if 2 * size == players else count


def _draw_pairs(players: int, size: int, count: int, rng: np.random.Generator) -> list[Coalition]:
    """``count`` distinct pairs of size ``size``, each named by its member that holds player 0 when
    the size is self-paired, by its size-``size`` member otherwise."""
    capacity = _pair_capacity(players, size)
    self_paired = 2 * size == players
    if count >= capacity or capacity <= ENUMERATE_PAIRS_UP_TO:
        named = [
            frozenset(c) for c in itertools.combinations(range(players), size) if not self_paired or 0 in c
        ]
        if count >= capacity:
            return named
        return [named[i] for i in sorted(rng.choice(capacity, count, replace=False).tolist())]
    drawn: dict[Coalition, None] = {}
    while len(drawn) < count:
        member = frozenset(rng.choice(players, size, replace=False).tolist())
        if self_paired and 0 not in member:
            member = frozenset(range(players)) - member
        drawn.setdefault(member, None)
    return list(drawn)


def kernel_plan(players: int, pairs: int, allocation: str = "kernel") -> dict[int, int]:
    """Pairs to draw per size 1..n/2 from ``pairs`` available: whole sizes from the smallest while
    they fit, then the rest by highest kernel mass per pair drawn (D'Hondt), never past a size's
    capacity."""
    plan: dict[int, int] = {}
    sizes = list(range(1, players // 2 + 1))
    for size in sizes:
        if _pair_capacity(players, size) > pairs:
            break
        plan[size] = _pair_capacity(players, size)
        pairs -= plan[size]
    rest = [s for s in sizes if s not in plan]
    per_size = {s: _size_mass(players, s) if allocation == "kernel" else 1.0 for s in rest}
    mass = {s: per_size[s] * (1 if 2 * s == players else 2) for s in rest}
    drawn = dict.fromkeys(rest, 0)
    for _ in range(pairs):
        open_sizes = [s for s in rest if drawn[s] < _pair_capacity(players, s)]
        if not open_sizes:
            break
        best = max(open_sizes, key=lambda s: (mass[s] / (drawn[s] + 1), -s))
        drawn[best] += 1
    return plan | {s: c for s, c in drawn.items() if c}


def _size_mass(players: int, size: int) -> float:
    """The Shapley kernel's total weight on the coalitions of one size: (n-1) / (s (n-s))."""
    return (players - 1) / (size * (players - size))


def constrained_fit(
    players: int, member: np.ndarray, weight: np.ndarray, lift: np.ndarray, total: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares of ``lift`` (u(S) - u(empty)) on the indicators ``member`` with the
    values summing to ``total`` (u(full) - u(empty)): values = P X'W lift + q total. Returns the
    values, P X'W (their coefficients on each lift) and q (on the total)."""
    a = member.T @ (member * weight[:, None])
    inverse = np.linalg.pinv(a)
    ones = np.ones(players)
    scale = float(ones @ inverse @ ones)
    q = inverse @ ones / scale if scale > 0 else ones / players
    projection = inverse - np.outer(inverse @ ones, ones @ inverse) / scale if scale > 0 else inverse * 0
    on_lifts = projection @ (member * weight[:, None]).T
    return on_lifts @ lift + q * total, on_lifts, q


def kernel_shapley(players: int, utilities: Utilities, *, seed: int, allocation: str = "kernel") -> Estimate:
    """Paired, size-stratified, efficiency-constrained KernelSHAP within the budget left (see the
    module docstring); standard errors by bootstrap over the drawn pairs of the sampled sizes."""
    rng = np.random.Generator(np.random.PCG64(seed))
    full, empty = frozenset(range(players)), frozenset[int]()
    u_full, u_empty = utilities.get([full, empty])
    plan = kernel_plan(players, utilities.remaining // 2, allocation)
    strata = [(s, _draw_pairs(players, s, c, rng)) for s, c in plan.items()]
    asked = [c for _, drawn in strata for s in drawn for c in (s, full - s)]
    value = dict(zip(asked, utilities.get(asked), strict=True))

    def rows(picks: list[tuple[int, list[Coalition]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        member, weight, lift = [], [], []
        for size, drawn in picks:
            per_size = 2 * len(drawn) if 2 * size == players else len(drawn)
            for half in drawn:
                for coalition, mass in ((half, size), (full - half, players - size)):
                    member.append([i in coalition for i in range(players)])
                    weight.append(_size_mass(players, mass) / per_size)
                    lift.append(value[coalition] - u_empty)
        return np.array(member, dtype=float).reshape(-1, players), np.array(weight), np.array(lift)

    member, weight, lift = rows(strata)
    values, on_lifts, on_total = constrained_fit(players, member, weight, lift, u_full - u_empty)
    sampled = [k for k, (s, drawn) in enumerate(strata) if len(drawn) < _pair_capacity(players, s)]
    errors: list[float | None] = [0.0] * players
    if sampled:
        draws = []
        for _ in range(BOOTSTRAP_RESAMPLES):
            picks = list(strata)
            for k in sampled:
                size, drawn = strata[k]
                picks[k] = (size, [drawn[i] for i in rng.integers(0, len(drawn), len(drawn))])
            draws.append(constrained_fit(players, *rows(picks), u_full - u_empty)[0])
        errors = [float(e) for e in np.std(draws, axis=0, ddof=1)]
    # coefficients of u(empty): minus those of every lift and of the total
    on_empty = -on_lifts.sum(axis=1) - on_total
    gain = np.sqrt((on_lifts**2).sum(axis=1) + on_total**2 + on_empty**2)
    return Estimate(
        Method.KERNEL,
        [float(v) for v in values],
        errors,
        len(asked) + 2,
        Stop.EXACT if not sampled else Stop.BUDGET,
        "paired_stratified_kernel",
        noise_gain=[float(g) for g in gain],
    )


GP_MAX_PLAYERS = 14  # the surrogate is evaluated on all 2^n coalitions (16384 at 14)
GP_CHUNK = 512  # coalitions per block of the posterior covariance (bounded memory)
GP_RESOLUTION = 1e-6  # smallest standard error, in spreads of the utilities: below it the posterior
# variance (a difference of two near-equal sums) is rounding, and an estimate is never called exact


def _indicators(players: int, coalitions: Sequence[Coalition]) -> np.ndarray:
    return np.array([[i in c for i in range(players)] for c in coalitions], dtype=float).reshape(-1, players)


def shapley_matrix(players: int, member: np.ndarray) -> np.ndarray:
    """Each player's Shapley coefficient on each coalition's utility (``member``: every coalition's
    indicators): (|S|-1)!(n-|S|)!/n! when it holds the player, -|S|!(n-|S|-1)!/n! when not."""
    sizes = member.sum(axis=1).astype(int)
    inside = np.array([1 / (players * math.comb(players - 1, k - 1)) if k > 0 else 0.0 for k in sizes])
    outside = np.array([-1 / (players * math.comb(players - 1, k)) if k < players else 0.0 for k in sizes])
    return (member * inside[:, None] + (1 - member) * outside[:, None]).T


def gp_shapley(players: int, utilities: Utilities, *, seed: int) -> Estimate:
    """Exact Shapley values of a Gaussian-process surrogate fitted to paired, size-stratified
    coalitions (see the module docstring); standard errors from the posterior."""
    if players > GP_MAX_PLAYERS:
        raise InvalidInput(f"gp_shapley values at most {GP_MAX_PLAYERS} contributions, not {players}")
    rng = np.random.Generator(np.random.PCG64(seed))
    full, empty = frozenset(range(players)), frozenset[int]()
    plan = kernel_plan(players, utilities.remaining // 2)
    halves = [h for size, count in plan.items() for h in _draw_pairs(players, size, count, rng)]
    asked = [c for h in halves for c in (h, full - h)]
    fitted = [full, empty, *asked]
    y = np.array(utilities.get(fitted))
    centre, scale = float(y.mean()), float(y.std()) or 1.0
    kernel = Constant(1.0, (1e-2, 1e2)) * RBF(3.0, (0.3, 100.0)) + WhiteKernel(1e-4, (1e-8, 1.0))
    member = _indicators(players, fitted)
    with warnings.catch_warnings():  # a deterministic model drives the noise level to its bound
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp = GaussianProcessRegressor(kernel, random_state=0).fit(member, (y - centre) / scale)
    signal = gp.kernel_.k1  # the latent utility, without the white noise
    table = _indicators(players, all_coalitions(players))
    shapley = shapley_matrix(players, table)
    # posterior mean on every coalition = G y: the GP's smoother, centred by the mean of y, with
    # the fitted u(full) (last coalition) and u(empty) (first) put back: efficiency exactly
    solve = cho_solve((gp.L_, True), np.eye(len(y)))
    cross = signal(table, member)
    smoother = cross @ solve
    smoother += (1 - smoother.sum(axis=1, keepdims=True)) / len(y)
    smoother[[0, -1]] = 0.0
    smoother[-1, 0] = smoother[0, 1] = 1.0
    on_utilities = shapley @ smoother
    values = on_utilities @ y
    # posterior variance of the Shapley map of the latent utility (full and empty are observed)
    shapley[:, [0, -1]] = 0.0
    prior = np.zeros(players)
    for start in range(0, len(table), GP_CHUNK):
        block = signal(table[start : start + GP_CHUNK], table)
        prior += ((shapley[:, start : start + GP_CHUNK] @ block) * shapley).sum(axis=1)
    explained = shapley @ cross
    variance = prior - np.einsum("ij,jk,ik->i", explained, solve, explained)
    errors: list[float | None] = [scale * max(math.sqrt(max(v, 0.0)), GP_RESOLUTION) for v in variance]
    return Estimate(
        Method.GP,
        [float(v) for v in values],
        errors,
        len(fitted),
        Stop.BUDGET,
        "gaussian_process_surrogate",
        noise_gain=[float(g) for g in np.sqrt((on_utilities**2).sum(axis=1))],
    )


def _stderr(samples: Sequence[float]) -> float:
    return float(np.std(samples, ddof=1) / math.sqrt(len(samples)))


def _converged(errors: Sequence[float | None], tolerance: float) -> bool:
    return all(e is not None and e <= tolerance for e in errors)


def permutation_shapley(
    players: int,
    utilities: Utilities,
    *,
    seed: int,
    tolerance: float,
    truncation: float = 0.0,
) -> Estimate:
    """Truncated Monte Carlo Shapley; each player's standard error over its marginals."""
    rng = np.random.Generator(np.random.PCG64(seed))
    full = frozenset(range(players))
    full_value = utilities.get([full])[0]
    marginals: list[list[float]] = [[] for _ in range(players)]
    permutations, stopped = 0, Stop.BUDGET
    limit = MAX_DRAWS_PER_RETRAIN * max(utilities.budget, 1)
    while True:
        errors = [_stderr(m) if len(m) >= MIN_SAMPLES else None for m in marginals]
        if _converged(errors, tolerance):
            stopped = Stop.TOLERANCE
            break
        if permutations >= limit:
            stopped = Stop.EXHAUSTED
            break
        planned = [rng.permutation(players) for _ in range(ROUND_PERMUTATIONS)]
        walks: list[tuple[np.ndarray, list[Coalition]]] = []
        for order in planned:  # keep the permutations whose every prefix the budget can pay for
            prefixes = [frozenset(order[:j].tolist()) for j in range(players)]
            need = utilities.cost(prefixes + [p for w in walks for p in w[1]])
            if need > utilities.remaining:
                break
            walks.append((order, prefixes))
        if not walks:
            break
        previous = utilities.get([w[1][0] for w in walks])  # the empty coalition
        alive = [True] * len(walks)
        for j in range(1, players + 1):
            coalitions = [full if j == players else w[1][j] for w in walks]
            current = utilities.get([c for c, a in zip(coalitions, alive, strict=True) if a])
            drawn = iter(current)
            for k, (order, _) in enumerate(walks):
                if not alive[k]:
                    marginals[order[j - 1]].append(0.0)
                    continue
                value = next(drawn)
                marginals[order[j - 1]].append(value - previous[k])
                previous[k] = value
                if truncation > 0 and abs(full_value - value) <= truncation:
                    alive[k] = False  # the rest of this walk is within noise of the full model
        permutations += len(walks)
    errors = [_stderr(m) if len(m) >= MIN_SAMPLES else None for m in marginals]
    values = [float(np.mean(m)) if m else 0.0 for m in marginals]
    return Estimate(Method.PERMUTATION, values, errors, permutations, stopped)


def msr_banzhaf(players: int, utilities: Utilities, *, seed: int, tolerance: float) -> Estimate:
    """Banzhaf values from uniformly drawn coalitions, each one reused for every player."""
    rng = np.random.Generator(np.random.PCG64(seed))
    masks: list[np.ndarray] = []
    values_drawn: list[float] = []
    stopped = Stop.BUDGET
    limit = MAX_DRAWS_PER_RETRAIN * max(utilities.budget, 1)

    def estimate() -> tuple[list[float], list[float | None]]:
        if not masks:
            return [0.0] * players, [None] * players
        member, u = np.array(masks), np.array(values_drawn)
        if len(u) >= LEAST_SQUARES_SAMPLES_PER_PLAYER * (players + 1):
            return least_squares(member, u)
        values: list[float] = []
        errors: list[float | None] = []
        for i in range(players):
            inside, outside = u[member[:, i]], u[~member[:, i]]
            if len(inside) and len(outside):
                values.append(float(inside.mean() - outside.mean()))
            else:
                values.append(0.0)
            if len(inside) >= MIN_SAMPLES and len(outside) >= MIN_SAMPLES:
                variance = inside.var(ddof=1) / len(inside) + outside.var(ddof=1) / len(outside)
                errors.append(float(math.sqrt(variance)))
            else:
                errors.append(None)
        return values, errors

    while True:
        values, errors = estimate()
        if _converged(errors, tolerance):
            stopped = Stop.TOLERANCE
            break
        if len(masks) >= limit:
            stopped = Stop.EXHAUSTED
            break
        drawn = rng.random((ROUND_SUBSETS, players)) < 0.5
        coalitions = [frozenset(np.flatnonzero(row).tolist()) for row in drawn]
        take = 0
        while take < len(coalitions) and utilities.cost(coalitions[: take + 1]) <= utilities.remaining:
            take += 1
        if take == 0:
            break
        values_drawn += utilities.get(coalitions[:take])
        masks += list(drawn[:take])
        if take < len(coalitions):
            break  # the budget is spent
    values, errors = estimate()
    fitted = len(masks) >= LEAST_SQUARES_SAMPLES_PER_PLAYER * (players + 1)
    return Estimate(
        Method.BANZHAF,
        values,
        errors,
        len(masks),
        stopped,
        "least_squares" if fitted else "difference_of_means",
    )


def least_squares(member: np.ndarray, utilities: np.ndarray) -> tuple[list[float], list[float | None]]:
    """Coefficients of ``utilities ~ 1 + indicators`` and their classical standard errors."""
    design = np.column_stack([np.ones(len(utilities)), member.astype(float)])
    coefficients, _, rank, _ = np.linalg.lstsq(design, utilities, rcond=None)
    residual = utilities - design @ coefficients
    dof = len(utilities) - rank
    sigma2 = float(residual @ residual) / dof if dof > 0 else 0.0
    covariance = sigma2 * np.linalg.pinv(design.T @ design)
    errors: list[float | None] = [float(math.sqrt(max(v, 0.0))) for v in np.diag(covariance)[1:]]
    return [float(c) for c in coefficients[1:]], errors


def estimate(
    method: Method,
    players: int,
    utilities: Utilities,
    *,
    seed: int,
    tolerance: float,
    truncation: float = 0.0,
) -> Estimate:
    """Run one estimator on ``players`` over the cached, budgeted ``utilities``."""
    if method is Method.EXACT:
        return exact_shapley(players, utilities)
    if method is Method.GP:
        return gp_shapley(players, utilities, seed=seed)
    if method is Method.KERNEL:
        return kernel_shapley(players, utilities, seed=seed)
    if method is Method.PERMUTATION:
        return permutation_shapley(players, utilities, seed=seed, tolerance=tolerance, truncation=truncation)
    if method is Method.BANZHAF:
        return msr_banzhaf(players, utilities, seed=seed, tolerance=tolerance)
    raise InvalidInput(f"no estimator for valuation method {method!r}")


def noise_floor(utilities: Sequence[float]) -> float:
    """The seed-noise floor: the standard deviation of the full coalition's utility over several
    seeds (0 when the model ignores its seed). A value smaller than the noise of one retrain cannot
    be told apart from a change of seed."""
    if len(utilities) < 2:
        return 0.0
    return float(np.std(utilities, ddof=1))
