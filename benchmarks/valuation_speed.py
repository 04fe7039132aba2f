"""Speed of contributor valuation and of near-duplicate detection, as ratios against bare scikit-learn.

V1 overhead: ``attribute`` (the pipeline's valuation) on one worker, wall time, divided by
  (a) the brief's yardstick: retrains x one candidate fit (fit + predict + metric on base + every
      contribution, bare scikit-learn, median of 3), and
  (b) the stricter one: the bare fit + predict + metric of exactly the coalitions it trained.
V2 scale-out: the same valuation on 2 local joblib workers; speed-up = one worker / two workers.
  Beside it, what the machine offers at that moment: the speed-up of a trivially parallel CPU loop
  on 2 loky processes (on cores shared with other work it is well below 2).
V3 near-duplicates: 1M base rows x 100k contributed rows x 20 numeric features, binary label, 10 %
  of the contributed rows near-copies of base rows. ``near_copies`` (label groups, per-feature
  scaling, chunked KDTree) vs bare ``KDTree(base, metric="chebyshev")`` + ``query_radius(count_only)``
  on the same arrays; each in its own child process, which reports its wall time and peak RSS.

Data for V1/V2: make_classification, 20 features; base 20k rows, 10 contributions of 2k rows,
benchmark 5k rows; HistGradientBoostingClassifier(max_iter=60), AUROC. Budget 32 retrains
(3 noise seeds, the base-only model, 28 coalitions: MSR Banzhaf), tolerance 0 so that every run
spends the whole budget. One BLAS/OpenMP thread per fit. Runs interleaved: 1, 2, 1, 2 workers.

Usage: python benchmarks/valuation_speed.py [--budget 16] [--base-rows 1000000] [--skip-neardup]
"""

from __future__ import annotations

import argparse
import json
import os

if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import console, print_ratio
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from hokusai.evaluation import executor
from hokusai.evaluation.attribution import ValuationConfig, attribute
from hokusai.evaluation.executor import Fit, RetrainProblem, utility
from hokusai.evaluation.metrics import task_for

SEED = 42
TARGET = "label"


def problem(contributions: int = 10) -> RetrainProblem:
    x, y = make_classification(
        n_samples=20_000 + contributions * 2_000 + 5_000, n_features=20, n_informative=10, random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)]).assign(**{TARGET: y})
    base, rest = frame.iloc[:20_000], frame.iloc[20_000:]
    benchmark = rest.iloc[:5_000]
    players = tuple(rest.iloc[5_000 + i * 2_000 : 5_000 + (i + 1) * 2_000] for i in range(contributions))
    task = task_for(frame[TARGET])
    return RetrainProblem(
        estimator=HistGradientBoostingClassifier(max_iter=60, random_state=0),
        base=base,
        players=players,
        benchmark=benchmark,
        y=task.indices(benchmark[TARGET]),
        features=tuple(c for c in frame.columns if c != TARGET),
        target=TARGET,
        task=task,
        metric="auroc",
    )


def bare(p: RetrainProblem, job: Fit) -> float:
    """Seconds of the bare scikit-learn work of one retrain: concat, fit, predict_proba, AUROC."""
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        frame = pd.concat([p.base, *(p.players[i] for i in job.coalition)], ignore_index=True)
        model = clone(p.estimator).set_params(random_state=job.seed)
        model.fit(frame[list(p.features)], frame[p.target])
        roc_auc_score(p.benchmark[p.target], model.predict_proba(p.benchmark[list(p.features)])[:, 1])
    return time.perf_counter() - started


def valuation(
    p: RetrainProblem, budget: int, workers: int, record: list[Fit] | None = None
) -> tuple[float, int]:
    full = tuple(range(len(p.players)))
    full_utility = utility(p, Fit(full, SEED))
    original = executor.utility
    if record is not None:

        def recording(problem: RetrainProblem, job: Fit) -> float:
            record.append(job)
            return original(problem, job)

        executor.utility = recording  # in-process only (workers=1): see what was trained
    try:
        started = time.perf_counter()
        result = attribute(
            p, [True] * len(p.players), full_utility=full_utility, baseline_utility=0.5, accepted=True,
            seed=SEED, config=ValuationConfig(budget=budget, workers=workers, tolerance_pp=0.0),
        )  # fmt: skip
        return time.perf_counter() - started, result.retrains
    finally:
        executor.utility = original


def _burn(n: int = 3_000_000) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def machine_speedup(tasks: int = 8) -> float:
    """One process / two loky processes on a pure-Python loop: the ceiling for V2 right now."""
    from joblib import Parallel, delayed

    started = time.perf_counter()
    for _ in range(tasks):
        _burn()
    one = time.perf_counter() - started
    with Parallel(n_jobs=2, backend="loky") as parallel:
        list(parallel(delayed(_burn)() for _ in range(2)))  # workers started
        started = time.perf_counter()
        list(parallel(delayed(_burn)() for _ in range(tasks)))
    return one / (time.perf_counter() - started)


def speed(budget: int) -> dict[str, Any]:
    p = problem()
    full = Fit(tuple(range(len(p.players))), SEED)
    candidate = [bare(p, full) for _ in range(3)]
    trained: list[Fit] = []
    one, retrains = valuation(p, budget, 1, trained)
    strict = sum(bare(p, job) for job in trained)
    ceiling = [machine_speedup()]
    two, _ = valuation(p, budget, 2)
    ones, twos = [one, valuation(p, budget, 1)[0]], [two, valuation(p, budget, 2)[0]]
    ceiling.append(machine_speedup())
    one_median, two_median = float(np.median(ones)), float(np.median(twos))
    yardstick = retrains * float(np.median(candidate))
    print_ratio(
        "V1: valuation on one worker vs retrains x one candidate fit",
        [("valuation, 1 worker", ones, "s"), ("one candidate fit (bare)", candidate, "s")],
        one_median / yardstick,
        "<= 1.15",
    )
    console.print(f"retrains {retrains}; strict ratio (vs the same coalitions, bare) = {one / strict:.3f}")
    print_ratio(
        "V2: 2 local workers",
        [("1 worker", ones, "s"), ("2 workers", twos, "s")],
        one_median / two_median,
        ">= 1.7",
    )
    console.print(f"machine's own 2-process speed-up (pure CPU loop) before and after: {ceiling}")
    return {
        "machine_speedup": ceiling,
        "retrains": retrains,
        "one_worker_s": ones,
        "two_workers_s": twos,
        "candidate_fit_s": candidate,
        "ratio_vs_yardstick": one_median / yardstick,
        "ratio_vs_same_coalitions": one / strict,
        "speedup_two_workers": one_median / two_median,
    }


CHILD = r"""
import json, resource, sys, time
import numpy as np
mode, n, q, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
base = rng.normal(size=(n, d)); labels = rng.integers(0, 2, n)
queries = rng.normal(size=(q, d)); query_labels = rng.integers(0, 2, q)
copies = q // 10
queries[:copies] = base[:copies] + rng.normal(0, 0.01, (copies, d)); query_labels[:copies] = labels[:copies]
started = time.perf_counter()
if mode == "bare":
    from sklearn.neighbors import KDTree
    found = KDTree(base, leaf_size=40, metric="chebyshev").query_radius(queries, r=0.05, count_only=True) > 0
else:
    import pandas as pd
    from hokusai.evaluation.neardup import NearDuplicateRule, near_copies
    columns = [f"f{i}" for i in range(d)]
    frame = pd.DataFrame(base, columns=columns, copy=False).assign(label=labels)
    asked = pd.DataFrame(queries, columns=columns, copy=False).assign(label=query_labels)
    rule = NearDuplicateRule.from_base(frame, columns, "label", tolerance=0.05)
    found = near_copies(rule, frame, asked)
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_rss": rss, "found": int(found.sum())}))
"""


def child(mode: str, rows: int, queries: int, features: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(rows), str(queries), str(features)],
        capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=Path(__file__).resolve().parent,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def neardup(rows: int, queries: int, features: int = 20, repeat: int = 2) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "hokusai": []}
    for _ in range(repeat):
        for mode in runs:  # interleaved
            runs[mode].append(child(mode, rows, queries, features))
    seconds = {m: float(np.median([r["seconds"] for r in v])) for m, v in runs.items()}
    rss = {m: float(np.median([r["peak_rss"] for r in v])) for m, v in runs.items()}
    time_ratio, rss_ratio = seconds["hokusai"] / seconds["bare"], rss["hokusai"] / rss["bare"]
    print_ratio(
        f"V3: near-duplicates, {rows:,} base x {queries:,} contributed x {features} features",
        [(f"{m} wall", [r["seconds"] for r in v], "s") for m, v in runs.items()]
        + [(f"{m} peak RSS", [r["peak_rss"] / 2**20 for r in v], "MiB") for m, v in runs.items()],
        time_ratio,
        "<= 1.3 (time)",
    )
    console.print(
        f"rows/s: hokusai {queries / seconds['hokusai']:,.0f}, bare {queries / seconds['bare']:,.0f}; "
        f"peak RSS ratio = {rss_ratio:.3f} (goal <= 1.3); found {[r['found'] for r in runs['hokusai']]} "
        f"vs bare {[r['found'] for r in runs['bare']]}"
    )
    return {
        "seconds": seconds,
        "peak_rss": rss,
        "time_ratio": time_ratio,
        "rss_ratio": rss_ratio,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=32)
    parser.add_argument("--base-rows", type=int, default=1_000_000)
    parser.add_argument("--contributed-rows", type=int, default=100_000)
    parser.add_argument("--skip-neardup", action="store_true")
    parser.add_argument("--skip-valuation", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    if not args.skip_valuation:
        figures["valuation"] = speed(args.budget)
    if not args.skip_neardup:
        figures["neardup"] = neardup(args.base_rows, args.contributed_rows)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
