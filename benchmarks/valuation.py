"""Quality of contributor valuation on data that ships with scikit-learn, with planted contributors.

Data sets and models (small and fast, so 20 seeds run in minutes on 2 cores):

* digits (1797 rows, 64 features, 10 classes; accuracy): StandardScaler + LogisticRegression
  (ignores its seed: noise floor 0);
* breast cancer (569 rows, 30 features, binary; AUROC): RandomForest, 25 trees of depth 4
  (uses its seed: the noise floor is above 0; AUROC is near its ceiling, values are small);
* covertype-like (synthetic, as scikit-learn ships no larger real set: make_classification, 6000
  rows, 20 features, 4 classes; accuracy): RandomForest, 25 trees of depth 8 (seed noise too).

Per seed the rows are shuffled and split into base, benchmark and a pool of unseen rows, and these
contributors are planted (in this order): honest (real unseen rows), a copycat (near-copies of the
first honest contributor's rows), more honest ones, label-flipped (real unseen rows, every label
wrong), a farmer (near-copies of base rows: correct labels, 1 % noise), empty-information (each
feature drawn independently from the pool, labels drawn from the class shares). Near-copies carry
1 % of a standard deviation of noise on every feature, so exact-row dedup keeps them.

Measured, side by side in the same run on the same contributions:

* the platform's rule (``attribute``: near-copies dropped, exact Shapley or the Gaussian-process
  surrogate within the default budget, noise floor, bps from values), and the same with permutation
  Shapley instead;
* today's rule before issue 11: exact dedup only, leave-one-out lift for 2-12 contributions,
  proportional to rows above 12 or when no lift is positive.

Reported: share of basis points paid to the non-informative contributors (copycat, flipped,
farmer, empty; median over seeds, goal <= 2 %), how often the label-flipped one gets 0 bps (goal
>= 95 %); the basis points of the GP surrogate, kernel Shapley, permutation Shapley and MSR Banzhaf
at 64 retrains and at the default budget against exact Shapley's by brute force (all 2^n coalitions
fitted, digits + logistic regression, n = 6 (exact: the issue's six-contributor case), 8, 10, 12;
goal at the default budget: max <= 500, mean <= 200) with the share paid to pure-noise
contributors (permuted labels, empty); one clean contribution split across 8 wallets vs whole
(goal: total share ratio <= 1.05); and 50 contributors valued within the default budget with a
standard error each.

Usage: python benchmarks/valuation.py [--seeds 20] [--accuracy-seeds 2] [--budgets 64,160]
[--workers 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os

if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from _common import console
from rich.table import Table
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hokusai.evaluation.attribution import DEFAULT_BUDGET, ValuationConfig, attribute
from hokusai.evaluation.executor import Fit, RetrainProblem, open_executor, utility
from hokusai.evaluation.integrate import integrate
from hokusai.evaluation.metrics import task_for
from hokusai.evaluation.valuation import Method, Utilities, all_coalitions, estimate
from hokusai.evaluation.weights import TOTAL_BPS, largest_remainder, weights_from_values

TARGET = "label"
SEED = 42
NOISE = 0.01  # near-copies: 1 % of each feature's standard deviation
NON_INFORMATIVE = ("copycat", "flipped", "farmer", "empty")


@dataclass(frozen=True)
class DataSet:
    name: str
    frame: pd.DataFrame
    metric: str
    estimator: Callable[[], Any]
    base: int
    benchmark: int
    rows: int  # per planted contributor
    honest: int


def datasets() -> list[DataSet]:
    digits = load_digits(as_frame=True).frame.rename(columns={"target": TARGET})
    cancer = load_breast_cancer(as_frame=True).frame.rename(columns={"target": TARGET})
    x, y = make_classification(
        n_samples=6000, n_features=20, n_informative=10, n_redundant=4, n_classes=4, class_sep=0.8,
        flip_y=0.02, random_state=0,
    )  # fmt: skip
    cover = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)]).assign(**{TARGET: y})
    return [
        DataSet(
            "digits",
            digits,
            "accuracy",
            lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
            base=150,
            benchmark=600,
            rows=60,
            honest=5,
        ),
        DataSet(
            "breast cancer",
            cancer,
            "auroc",
            lambda: RandomForestClassifier(n_estimators=25, max_depth=4, random_state=0),
            base=80,
            benchmark=250,
            rows=30,
            honest=5,
        ),
        DataSet(
            "covertype-like",
            cover,
            "accuracy",
            lambda: RandomForestClassifier(n_estimators=25, max_depth=8, random_state=0),
            base=300,
            benchmark=1000,
            rows=100,
            honest=5,
        ),
    ]


@dataclass
class Market:
    data: DataSet
    base: pd.DataFrame
    benchmark: pd.DataFrame
    contributions: list[pd.DataFrame]
    kinds: list[str]


def _near_copies(
    rng: np.random.Generator, source: pd.DataFrame, rows: int, spread: pd.Series
) -> pd.DataFrame:
    copies = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    features = [c for c in source.columns if c != TARGET]
    copies[features] = copies[features] + rng.normal(0, NOISE, (rows, len(features))) * spread.to_numpy()
    return copies


def graded(data: DataSet, seed: int, players: int) -> Market:
    """``players - 2`` honest contributors of growing size (1/3 to 8/3 of a unit of rows), then a
    label-flipped and an empty-information one: a game whose Shapley values are spread out."""
    market = plant(data, seed, honest=1)
    frame = data.frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    pool = frame.iloc[data.base + data.benchmark + 3 * data.rows :].reset_index(drop=True)
    grades = (1 / 3, 2 / 3, 1, 1.5, 2, 8 / 3)[: players - 2]
    unit = min(data.rows, len(pool) / sum(grades))  # breast cancer has fewer unseen rows
    sizes = [round(unit * f) for f in grades]
    starts = np.cumsum([0, *sizes])
    honest = [pool.iloc[starts[i] : starts[i + 1]].reset_index(drop=True) for i in range(len(sizes))]
    flipped, empty = (market.contributions[market.kinds.index(k)] for k in ("flipped", "empty"))
    return Market(
        data,
        market.base,
        market.benchmark,
        [*honest, flipped, empty],
        [*["honest"] * len(sizes), "flipped", "empty"],
    )


def plant(data: DataSet, seed: int, honest: int | None = None, rows: int | None = None) -> Market:
    """Split the data set and plant the contributors (see the module docstring)."""
    rng = np.random.default_rng(seed)
    frame = data.frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    honest, rows = honest or data.honest, rows or data.rows
    base = frame.iloc[: data.base]
    benchmark = frame.iloc[data.base : data.base + data.benchmark]
    pool = frame.iloc[data.base + data.benchmark :].reset_index(drop=True)
    features = [c for c in frame.columns if c != TARGET]
    spread = base[features].std(ddof=0).replace(0, 1.0)
    take = iter(range(0, len(pool), rows))

    def unseen() -> pd.DataFrame:
        start = next(take)
        return pool.iloc[start : start + rows].reset_index(drop=True)

    classes = np.sort(frame[TARGET].unique())
    honest_frames = [unseen() for _ in range(honest)]
    flipped = unseen()
    shift = rng.integers(1, len(classes), len(flipped))
    flipped[TARGET] = classes[(np.searchsorted(classes, flipped[TARGET]) + shift) % len(classes)]
    empty = pd.DataFrame({c: rng.choice(pool[c].to_numpy(), rows) for c in features})
    empty[TARGET] = rng.choice(frame[TARGET].to_numpy(), rows)
    contributions = [
        honest_frames[0],
        _near_copies(rng, honest_frames[0], rows, spread),
        *honest_frames[1:],
        flipped,
        _near_copies(rng, base, 10 * rows, spread),
        empty,
    ]
    kinds = ["honest", "copycat", *["honest"] * (honest - 1), "flipped", "farmer", "empty"]
    return Market(data, base, benchmark, contributions, kinds)


def problem_for(market: Market, frames: list[pd.DataFrame]) -> RetrainProblem:
    frame = market.data.frame
    task = task_for(frame[TARGET])
    return RetrainProblem(
        estimator=market.data.estimator(),
        base=market.base,
        players=tuple(f for f in frames if len(f)),
        benchmark=market.benchmark,
        y=task.indices(market.benchmark[TARGET]),
        features=tuple(c for c in frame.columns if c != TARGET),
        target=TARGET,
        task=task,
        metric=market.data.metric,
    )


def platform_rule(market: Market, method: str, workers: int) -> dict[str, Any]:
    """Near-copies dropped, then ``attribute`` (what ``weigh_contributors`` runs)."""
    integration = integrate(market.base, market.benchmark, market.contributions, TARGET)
    players = [len(c) > 0 for c in integration.contributions]
    problem = problem_for(market, integration.contributions)
    full = utility(problem, Fit(tuple(range(len(problem.players))), SEED))
    config = ValuationConfig(method=method, workers=workers)
    started = time.perf_counter()
    attribution = attribute(
        problem, players, full_utility=full, baseline_utility=full, accepted=True, seed=SEED, config=config
    )  # accepted: an inconclusive attribution is split equally (the worst case for this table)
    return {
        "bps": attribution.weights.bps,
        "retrains": attribution.retrains,
        "method": attribution.method.value if attribution.method else None,
        "floor": attribution.noise_floor_pp,
        "errors": attribution.stderr_pp,
        "seconds": time.perf_counter() - started,
        "inconclusive": attribution.inconclusive,
    }


def legacy_rule(market: Market) -> dict[str, Any]:
    """Today's rule before issue 11 (the removed ``contributor_weights``), on exact dedup only."""
    integration = integrate(market.base, market.benchmark, market.contributions, TARGET, near_tolerance=None)
    rows = [len(c) for c in integration.contributions]
    problem = problem_for(market, integration.contributions)
    everyone = tuple(range(len(problem.players)))
    if len(rows) == 1:
        return {"bps": [TOTAL_BPS if rows[0] else 0], "retrains": 0}
    if 2 <= len(rows) <= 12:
        full = utility(problem, Fit(everyone, SEED))
        lifts, player = [], 0
        for count in rows:
            if count == 0:
                lifts.append(0.0)
                continue
            without = utility(problem, Fit(tuple(p for p in everyone if p != player), SEED))
            lifts.append(max(0.0, full - without))
            player += 1
        if sum(lifts) > 0:
            return {"bps": largest_remainder(lifts, TOTAL_BPS), "retrains": player}
    return {"bps": largest_remainder(rows, TOTAL_BPS), "retrains": 0}


def share(bps: list[int], kinds: list[str]) -> float:
    return sum(b for b, k in zip(bps, kinds, strict=True) if k in NON_INFORMATIVE) / TOTAL_BPS


def quality(seeds: int, workers: int, only: str | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for data in datasets():
        if only and data.name != only:
            continue
        rules: dict[str, list[dict[str, Any]]] = {
            "platform (auto)": [],
            "permutation Shapley": [],
            "legacy": [],
        }
        for seed in range(seeds):
            market = plant(data, seed)
            rules["platform (auto)"].append(platform_rule(market, "auto", workers))
            rules["permutation Shapley"].append(platform_rule(market, Method.PERMUTATION.value, workers))
            rules["legacy"].append(legacy_rule(market))
        kinds = market.kinds
        results[data.name] = {
            name: {
                "non_informative_share_median": statistics.median(share(r["bps"], kinds) for r in runs),
                "non_informative_share_max": max(share(r["bps"], kinds) for r in runs),
                "flipped_zero": sum(r["bps"][kinds.index("flipped")] == 0 for r in runs) / len(runs),
                "farmer_bps_median": statistics.median(r["bps"][kinds.index("farmer")] for r in runs),
                "copycat_bps_median": statistics.median(r["bps"][kinds.index("copycat")] for r in runs),
                "retrains_median": statistics.median(r["retrains"] for r in runs),
                "method": runs[0].get("method", "leave_one_out / rows"),
                "floor_pp_median": statistics.median(r.get("floor") or 0.0 for r in runs),
                "inconclusive": sum(bool(r.get("inconclusive")) for r in runs),
            }
            for name, runs in rules.items()
        }
    return results


def noisy_market(data: DataSet, seed: int, players: int) -> Market:
    """The issue-20 kinds, cycled to ``players``: clean (two sizes), 20 % and 50 % random labels, all
    labels permuted, nearly single-class, then more clean ones of other sizes, a flipped and an empty
    one. ``players = 6`` is the issue's six-contributor case (two clean, 20 %, 50 %, permuted, one
    nearly single-class)."""
    rng = np.random.default_rng(seed)
    frame = data.frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    base = frame.iloc[: data.base]
    benchmark = frame.iloc[data.base : data.base + data.benchmark]
    pool = frame.iloc[data.base + data.benchmark :].reset_index(drop=True)
    classes = np.sort(frame[TARGET].unique())
    kinds = ["clean", "clean", "random20", "random50", "permuted", "single_class"]
    kinds += ["clean", "flipped", "clean", "empty", "clean", "random20"]
    kinds = kinds[:players]
    sizes = [60, 120, 80, 80, 80, 80, 40, 60, 90, 60, 30, 60][:players]
    frames, start = [], 0
    for kind, rows in zip(kinds, sizes, strict=True):
        part = pool.iloc[start : start + rows].reset_index(drop=True)
        start += rows
        labels = part[TARGET].to_numpy().copy()
        if kind.startswith("random"):
            hit = rng.random(rows) < int(kind[6:]) / 100
            labels[hit] = rng.choice(classes, int(hit.sum()))
        elif kind == "permuted":
            labels = rng.permutation(labels)
        elif kind == "flipped":
            labels = classes[
                (np.searchsorted(classes, labels) + rng.integers(1, len(classes), rows)) % len(classes)
            ]
        elif kind == "single_class":
            labels = np.where(rng.random(rows) < 0.9, classes[0], labels)
        elif kind == "empty":
            part = pd.DataFrame({c: rng.choice(pool[c].to_numpy(), rows) for c in part.columns})
            labels = rng.choice(frame[TARGET].to_numpy(), rows)
        part[TARGET] = labels
        frames.append(part)
    return Market(data, base, benchmark, frames, kinds)


PURE_NOISE = ("permuted", "empty")


def brute_force_table(problem: RetrainProblem, workers: int) -> dict[frozenset[int], float]:
    """Every coalition fitted with the platform's own utility (the truth the estimators aim at)."""
    coalitions = all_coalitions(len(problem.players))
    with open_executor(problem, workers) as executor:
        fitted = executor.run([Fit(tuple(sorted(c)), SEED) for c in coalitions], lambda: None)
    return dict(zip(coalitions, fitted, strict=True))


def payout(values: list[float], errors: list[float | None]) -> list[int]:
    return weights_from_values(values, stderr_pp=errors, players=[True] * len(values), accepted=True).bps


SAMPLED = (Method.GP, Method.KERNEL, Method.PERMUTATION, Method.BANZHAF)


def accuracy(
    workers: int, players_list: tuple[int, ...], seeds: int, budgets: tuple[int, ...]
) -> dict[str, Any]:
    """Basis points of each estimator at each budget against exact Shapley's, on the same fitted
    utilities (the estimators ask the brute-force table instead of refitting: same answers). The
    budget left for coalitions is what ``attribute`` leaves on a deterministic model: the budget
    minus the noise probe and the base-only model. Both sides go through the payout rule (exact:
    error 0, every positive value paid). One market per seed with the most players: the smaller
    cases are its first contributors (``noisy_market`` draws them in order), so one table serves all."""
    data = datasets()[0]  # digits + logistic regression: deterministic, so exact values are the truth
    results: dict[str, Any] = {}
    for seed in range(seeds):
        largest = noisy_market(data, 2000 + seed, max(players_list))
        whole = brute_force_table(problem_for(largest, largest.contributions), workers)
        for players in players_list:
            table = {c: u for c, u in whole.items() if max(c, default=-1) < players}
            kinds = largest.kinds[:players]

            def lookup(asked: list[frozenset[int]], table: dict = table) -> list[float]:
                return [table[c] for c in asked]

            exact = estimate(Method.EXACT, players, Utilities(lookup, 0, table), seed=SEED, tolerance=0)
            truth = np.array(payout(exact.values, exact.stderr))
            full, empty = frozenset(range(players)), frozenset()
            for budget in budgets:
                left = budget - 2
                case: dict[str, Any] = {"kinds": kinds, "budget": budget, "exact_bps": truth.tolist()}
                auto = Method.EXACT if 2**players - 2 <= left else Method.GP
                case["auto"] = auto.value
                for method in [Method.EXACT] if auto is Method.EXACT else SAMPLED:
                    cache = Utilities(lookup, left, {full: table[full], empty: table[empty]})
                    found = estimate(method, players, cache, seed=SEED, tolerance=0.0)
                    bps = np.array(payout(found.values, found.stderr))
                    error = np.abs(bps - truth)
                    case[method.value] = {
                        "max_bps_error": int(error.max()),
                        "mean_bps_error": float(error.mean()),
                        "pure_noise_share": sum(b for b, k in zip(bps, kinds, strict=True) if k in PURE_NOISE)
                        / TOTAL_BPS,
                        "retrains": cache.retrains,
                    }
                results[f"digits n={players} seed={seed} budget={budget}"] = case
    return results


def split_ratio(workers: int, seeds: int, pieces: int = 8) -> dict[str, Any]:
    """One clean contribution of 400 rows, whole vs split across ``pieces`` wallets, beside three
    other clean contributors (digits): its total share split ÷ whole, through ``attribute``, and the
    same ratio for exact Shapley by brute force (every coalition of both games fitted): what any
    Shapley estimator aims at."""
    data = datasets()[0]
    ratios, unpaid_pieces, exact_ratios = [], [], []
    for seed in range(seeds):
        frame = data.frame.sample(frac=1.0, random_state=3000 + seed).reset_index(drop=True)
        base = frame.iloc[: data.base]
        benchmark = frame.iloc[data.base : data.base + data.benchmark]
        pool = frame.iloc[data.base + data.benchmark :].reset_index(drop=True)
        clean = pool.iloc[:400].reset_index(drop=True)
        others = [pool.iloc[400 + 100 * i : 500 + 100 * i].reset_index(drop=True) for i in range(3)]
        cut = len(clean) // pieces
        split = [clean.iloc[i * cut : (i + 1) * cut].reset_index(drop=True) for i in range(pieces)]
        shares, exact_shares = [], []
        for frames in ([clean, *others], [*split, *others]):
            market = Market(data, base, benchmark, frames, ["clean"] * len(frames))
            problem = problem_for(market, frames)
            full = utility(problem, Fit(tuple(range(len(frames))), SEED))
            attribution = attribute(
                problem, [True] * len(frames), full_utility=full, baseline_utility=full, accepted=True,
                seed=SEED, config=ValuationConfig(workers=workers),
            )  # fmt: skip
            shares.append(attribution.weights.bps)
            table = brute_force_table(problem, workers)
            utilities = Utilities(lambda asked, t=table: [t[c] for c in asked], 0, table)
            exact = estimate(Method.EXACT, len(frames), utilities, seed=SEED, tolerance=0)
            exact_shares.append(payout(exact.values, exact.stderr))
        exact_ratios.append(sum(exact_shares[1][:pieces]) / exact_shares[0][0])
        whole, pieces_bps = shares[0][0], shares[1][:pieces]
        ratios.append(sum(pieces_bps) / whole if whole else float("inf"))
        unpaid_pieces.append(sum(b == 0 for b in pieces_bps))
    return {
        "ratio_max": max(ratios),
        "ratio_median": statistics.median(ratios),
        "ratios": ratios,
        "unpaid_pieces": unpaid_pieces,
        "exact_shapley_ratios": exact_ratios,
    }


def fifty(workers: int) -> dict[str, Any]:
    """50 contributors on digits (45 honest with 18 rows each, the 5 planted ones) in the default budget."""
    data = datasets()[0]
    market = plant(data, 7, honest=46, rows=18)
    result = platform_rule(market, "auto", workers)
    errors = [e for e, bps in zip(result["errors"], result["bps"], strict=True) if e is not None]
    return {
        "contributors": len(market.contributions),
        "players": len(errors),
        "retrains": result["retrains"],
        "method": result["method"],
        "errors_reported": len(errors),
        "median_error_pp": statistics.median(errors),
        "non_informative_share": share(result["bps"], market.kinds),
        "flipped_bps": result["bps"][market.kinds.index("flipped")],
        "seconds": result["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--accuracy-seeds", type=int, default=2)
    parser.add_argument("--players", default="6,8,10,12", help="sizes of the brute-force accuracy cases")
    parser.add_argument(
        "--budgets", default=f"64,{DEFAULT_BUDGET}", help="valuation budgets of the accuracy cases"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--only", help="the quality table of this data set alone (no Spearman, no 50)")
    args = parser.parse_args()
    console.width = max(console.width, 150)  # the tables have many columns
    started = time.perf_counter()
    figures: dict[str, Any] = {"quality": quality(args.seeds, args.workers, args.only)}
    if not args.only:
        players = tuple(int(n) for n in args.players.split(","))
        budgets = tuple(int(b) for b in args.budgets.split(","))
        figures["accuracy"] = accuracy(args.workers, players, args.accuracy_seeds, budgets)
        figures["split"] = split_ratio(args.workers, args.accuracy_seeds)
        figures["fifty"] = fifty(args.workers)
    figures["seconds"] = time.perf_counter() - started
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)
    for name, rules in figures["quality"].items():
        table = Table(title=f"{name}: {args.seeds} seeds")
        columns = ["rule", "method", "non-informative share (median / max)", "flipped at 0 bps",
                   "farmer bps (median)", "copycat bps (median)", "retrains (median)", "floor pp",
                   "inconclusive"]  # fmt: skip
        for column in columns:
            table.add_column(column)
        for rule, f in rules.items():
            table.add_row(
                rule, str(f["method"]),
                f"{f['non_informative_share_median']:.2%} / {f['non_informative_share_max']:.2%}",
                f"{f['flipped_zero']:.0%}", f"{f['farmer_bps_median']:.0f}", f"{f['copycat_bps_median']:.0f}",
                f"{f['retrains_median']:.0f}", f"{f['floor_pp_median']:.3f}", str(f["inconclusive"]),
            )  # fmt: skip
        console.print(table)
    if args.only:
        return
    table = Table(title="bps vs exact Shapley (brute force), digits + logistic regression: max / mean error")
    for column in ("case", "budget", *(m.value for m in SAMPLED), "auto", "pure-noise share (auto)"):
        table.add_column(column)
    for case, f in figures["accuracy"].items():
        cells = [f"{f[m]['max_bps_error']} / {f[m]['mean_bps_error']:.0f}" if m in f else "-" for m in
                 (m.value for m in SAMPLED)]  # fmt: skip
        auto = f[f["auto"]]
        chosen = f"{f['auto']}: {auto['max_bps_error']} / {auto['mean_bps_error']:.0f}"
        table.add_row(case.rsplit(" budget", 1)[0], str(f["budget"]), *cells, chosen,
                      f"{auto['pure_noise_share']:.2%}")  # fmt: skip
    console.print(table)
    console.print(f"split across 8 wallets ÷ whole: {json.dumps(figures['split'])}")
    console.print(f"50 contributors: {json.dumps(figures['fifty'])}")
    console.print(f"total {figures['seconds']:.0f} s")


if __name__ == "__main__":
    main()
