"""The DeltaOne decision rule on synthetic paired predictions (no retraining): how often it accepts a
candidate that is no better, and how many benchmark rows it needs to see a real gain.

Data-generating processes (one benchmark, both models scored on the same rows, as the platform does):

* accuracy: binary labels; the baseline is right on each row with probability 0.80. The candidate
  repeats the baseline's verdict on a share ``agreement`` of the rows (0.85: a model retrained with a
  little more data mostly agrees with its baseline) and elsewhere is right independently, with the
  probability that makes its accuracy 0.80 + gain;
* RMSE: the baseline's errors are N(0, 1); the candidate's are correlated with them (rho 0.85) and
  scaled so that its RMSE is lower by ``gain`` (in RMSE units: 0.05, i.e. 5 % of the baseline's; at
  1 % the unpaired test needs ~78 000 rows, too many to simulate in minutes).

Measured, with the platform's own code (``compare_models`` / ``compare_regressions`` and ``decide``):

* false accept rate when the true gain is 0, over 1000 simulations of 1000 rows: the rule with
  threshold 0 (only the paired interval decides) and with the default threshold (goal <= 2.5 %);
* rows for 80 % power at a true gain of +1 pp accuracy (and 0.05 RMSE): the smallest n at which the
  paired rule (threshold 0) accepts in 80 % of simulations, divided by the n an unpaired design needs on
  the same process (each model scored on its own n rows): the two-proportion z-test for accuracy, a
  two-sample z-test on squared errors for RMSE; its n comes from the closed form and is checked by
  simulation (goal <= 0.5). n is rows per model, so the unpaired design uses 2n labelled rows in all.

Usage: python benchmarks/decision.py [--sims 1000] [--power-sims 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from _common import console
from rich.progress import Progress
from rich.table import Table

from hokusai.evaluation.compare import compare_models, compare_regressions
from hokusai.evaluation.decision import decide
from hokusai.evaluation.metrics import Predictions, Task
from hokusai.evaluation.regression import RegressionTask
from hokusai.pipeline.options import DEFAULTS

BASE_ACCURACY = 0.80
AGREEMENT = 0.85
RHO = 0.85
ACCURACY_GAIN = 0.01  # +1 pp
RMSE_GAIN = 0.05  # baseline RMSE 1.0: a 5 % lower RMSE
Z = NormalDist().inv_cdf(0.975)
Z_POWER = NormalDist().inv_cdf(0.80)
BINARY = Task((0, 1))


@dataclass(frozen=True)
class Process:
    """One data-generating process: a simulation of n rows, and the decision on them."""

    name: str
    metric: str
    simulate: Callable[[np.random.Generator, int, float], tuple[np.ndarray, np.ndarray, np.ndarray]]
    compare: Callable[[np.ndarray, np.ndarray, np.ndarray, int], dict]
    unpaired_rows: Callable[[float], float]
    unpaired_accepts: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], bool]


def _classification(rng: np.random.Generator, n: int, gain: float) -> tuple[np.ndarray, ...]:
    y = rng.integers(0, 2, n)
    base_right = rng.random(n) < BASE_ACCURACY
    own = (BASE_ACCURACY + gain - AGREEMENT * BASE_ACCURACY) / (1 - AGREEMENT)
    cand_right = np.where(rng.random(n) < AGREEMENT, base_right, rng.random(n) < own)
    return y, np.where(base_right, y, 1 - y), np.where(cand_right, y, 1 - y)


def _predictions(labels: np.ndarray) -> Predictions:
    scores = np.where(labels[:, None] == np.arange(2), 0.75, 0.25)
    return Predictions(labels, scores)


def _compare_classification(y: np.ndarray, base: np.ndarray, cand: np.ndarray, seed: int) -> dict:
    return compare_models(y, _predictions(base), _predictions(cand), BINARY, seed=seed)


def _two_proportion_rows(gain: float) -> float:
    p0, p1 = BASE_ACCURACY, BASE_ACCURACY + gain
    return (Z + Z_POWER) ** 2 * (p0 * (1 - p0) + p1 * (1 - p1)) / gain**2


def _two_proportion_accepts(y0: np.ndarray, base: np.ndarray, y1: np.ndarray, cand: np.ndarray) -> bool:
    p0, p1, n = float(np.mean(base == y0)), float(np.mean(cand == y1)), len(y0)
    pooled = (p0 + p1) / 2
    return (p1 - p0) / math.sqrt(max(pooled * (1 - pooled) * 2 / n, 1e-12)) > Z


def _regression(rng: np.random.Generator, n: int, gain: float) -> tuple[np.ndarray, ...]:
    y = rng.normal(0, 1, n)
    e0 = rng.normal(0, 1, n)
    e1 = (RHO * e0 + math.sqrt(1 - RHO**2) * rng.normal(0, 1, n)) * (1 - gain)
    return y, y + e0, y + e1


def _compare_regression(y: np.ndarray, base: np.ndarray, cand: np.ndarray, seed: int) -> dict:
    return compare_regressions(y, base, cand, RegressionTask(0.5), seed=seed)


def _squared_error_rows(gain: float) -> float:
    """Rows for a two-sample z-test of mean squared errors (Var of a squared N(0, s^2) error: 2 s^4)."""
    s1 = 1 - gain
    return (Z + Z_POWER) ** 2 * (2 + 2 * s1**4) / (1 - s1**2) ** 2


def _squared_error_accepts(y0: np.ndarray, base: np.ndarray, y1: np.ndarray, cand: np.ndarray) -> bool:
    a, b = (base - y0) ** 2, (cand - y1) ** 2
    return (a.mean() - b.mean()) / math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) > Z


PROCESSES = (
    Process("accuracy (binary)", "accuracy", _classification, _compare_classification,
            _two_proportion_rows, _two_proportion_accepts),
    Process("RMSE (regression)", "rmse", _regression, _compare_regression,
            _squared_error_rows, _squared_error_accepts),
)  # fmt: skip


def accepts(
    process: Process, y: np.ndarray, base: np.ndarray, cand: np.ndarray, seed: int, threshold: float
) -> bool:
    comparisons = process.compare(y, base, cand, seed)
    decision = decide(
        comparisons,
        primary_metric=process.metric,
        weights={process.metric: 1.0},
        benchmark_rows=len(y),
        threshold=threshold,
        min_benchmark_rows=1,
    )
    return decision.accepted


def false_accepts(process: Process, sims: int, rows: int, progress: Progress) -> dict[str, float]:
    """Share of simulations with no true gain the rule accepts, at threshold 0 and at the default."""
    task = progress.add_task(f"{process.name}: no true gain", total=sims)
    zero = default = 0
    for sim in range(sims):
        rng = np.random.default_rng(10_000 + sim)
        y, base, cand = process.simulate(rng, rows, 0.0)
        zero += accepts(process, y, base, cand, sim, 0.0)
        default += accepts(process, y, base, cand, sim, DEFAULTS.threshold)
        progress.advance(task)
    return {"threshold_0": zero / sims, "default_threshold": default / sims}


def power(process: Process, rows: int, gain: float, sims: int, paired: bool) -> float:
    """Share of simulations at a true ``gain`` accepted: by the paired rule (both models on the same
    rows), or by the unpaired test (each model on its own independent ``rows`` rows)."""
    hits = 0
    for sim in range(sims):
        rng = np.random.default_rng(20_000 + sim)
        y, base, cand = process.simulate(rng, rows, gain)
        if paired:
            hits += accepts(process, y, base, cand, sim, 0.0)
        else:
            y_other, _, cand_other = process.simulate(rng, rows, gain)
            hits += process.unpaired_accepts(y, base, y_other, cand_other)
    return hits / sims


def rows_for_power(process: Process, gain: float, sims: int, progress: Progress) -> int:
    """The smallest n (to 2 %) at which the paired rule accepts in 80 % of simulations (bisection)."""
    guess = process.unpaired_rows(gain)
    low, high = 20, int(guess)
    task = progress.add_task(f"{process.name}: rows for 80 % power", total=None)
    while high - low > max(10, low // 50):
        middle = (low + high) // 2
        if power(process, middle, gain, sims, paired=True) >= 0.80:
            high = middle
        else:
            low = middle
        progress.advance(task)
    progress.remove_task(task)
    return high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--power-sims", type=int, default=300)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    results: dict[str, dict] = {}
    with Progress(console=console, transient=True) as progress:
        for process, gain in zip(PROCESSES, (ACCURACY_GAIN, RMSE_GAIN), strict=True):
            false = false_accepts(process, args.sims, args.rows, progress)
            paired_rows = rows_for_power(process, gain, args.power_sims, progress)
            unpaired_rows = process.unpaired_rows(gain)
            check = power(process, round(unpaired_rows), gain, args.power_sims, paired=False)
            results[process.name] = {
                "false_accept_threshold_0": false["threshold_0"],
                "false_accept_default_threshold": false["default_threshold"],
                "paired_rows_80": paired_rows,
                "unpaired_rows_80": round(unpaired_rows),
                "unpaired_power_at_its_rows": check,
                "ratio": paired_rows / unpaired_rows,
            }
    title = f"DeltaOne rule: {args.sims} simulations of {args.rows} rows; power over {args.power_sims}"
    table = Table(title=title)
    for column in ("process", "false accept (thr 0)", "false accept (default)", "paired rows",
                   "unpaired rows", "unpaired power", "ratio"):  # fmt: skip
        table.add_column(column, justify="right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['false_accept_threshold_0']:.1%}",
            f"{r['false_accept_default_threshold']:.1%}",
            str(r["paired_rows_80"]),
            str(r["unpaired_rows_80"]),
            f"{r['unpaired_power_at_its_rows']:.0%}",
            f"{r['ratio']:.3f}",
        )
    console.print(table)
    console.print("goals: false accept <= 2.5 %, ratio <= 0.5")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
