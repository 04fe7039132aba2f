"""P1: `hokusai pipeline run` on 1M generated rows, divided by the bare scikit-learn work, same script.

Data: make_classification, 20 features; base 600k, contribution 200k, benchmark 200k rows (Parquet).
Baseline: HistGradientBoostingClassifier fitted on the base rows (setup, not timed).
Bare work (in this process, data already in memory): fit the seeded clone on base + contribution,
predict (labels and probabilities) with both models on the benchmark, compute accuracy, precision,
recall, F1 and AUROC with scikit-learn. Pipeline: the `hokusai pipeline run` command (reading,
validation, integration, training, scoring, intervals, weights, plots, attestation, MLflow run and
registration on a real MLflow server), wall time, timed two ways:

* in this process, through the console script's entry point ``hokusai.cli.main`` — like the bare
  work, it finds its libraries already imported; this is the ratio against the goal;
* as a fresh child process, which adds interpreter start-up and imports (reported too).

The first run validates the base data and benchmark (cold); later runs reuse the cached verdicts,
as every evaluation against the same model does. The cold run is reported separately.
Both sides run their numeric libraries on one thread (``OMP_NUM_THREADS=1`` unless already set; the
child inherits it): on cores shared with other work, OpenMP's thread barriers make multi-threaded
timings erratic.

Usage: python benchmarks/pipeline.py [--repeat 3] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os

if __name__ == "__main__":  # before numpy/scikit-learn start their thread pools
    os.environ.setdefault("OMP_NUM_THREADS", "1")
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import console, median, print_ratio
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.neighbors import KDTree

from hokusai.cli import main as hokusai_main
from hokusai.tracking.models import save_model_dir
from tests.support.mlflow import MlflowServer, mlflow_settings

SEED = 42
WALLET = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
SIGNER_KEY = "0x" + "42" * 32


def generate(root: Path, rows: int) -> dict[str, pd.DataFrame]:
    x, y = make_classification(
        n_samples=rows,
        n_features=20,
        n_informative=10,
        n_redundant=4,
        class_sep=0.8,
        flip_y=0.05,
        random_state=0,
    )
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(20)])
    frame["label"] = y
    cut1, cut2 = int(rows * 0.6), int(rows * 0.8)
    parts = {"base": frame.iloc[:cut1], "contribution": frame.iloc[cut1:cut2], "benchmark": frame.iloc[cut2:]}
    for name, part in parts.items():
        part.to_parquet(root / f"{name}.parquet", index=False)
    return parts


def bare_work(baseline: HistGradientBoostingClassifier, train: pd.DataFrame, bench: pd.DataFrame) -> float:
    """Fit the candidate, predict both models on the benchmark, compute the five metrics."""
    features = [c for c in train.columns if c != "label"]
    x_train, y_train, x_bench, y_bench = train[features], train["label"], bench[features], bench["label"]
    started = time.perf_counter()
    candidate = clone(baseline).set_params(random_state=SEED).fit(x_train, y_train)
    for model in (baseline, candidate):
        labels, scores = model.predict(x_bench), model.predict_proba(x_bench)[:, 1]
        for metric in (accuracy_score, precision_score, recall_score, f1_score):
            metric(y_bench, labels)
        roc_auc_score(y_bench, scores)
    return time.perf_counter() - started


def bare_near_copies(
    base: pd.DataFrame,
    contribution: pd.DataFrame,
    bench: pd.DataFrame,
    tolerance: float = 0.05,
    probe: int = 5,
) -> float:
    """A bare scikit-learn ``KDTree`` near-copy search of the same rows (the pipeline's trust work, without
    its plumbing): which contributed rows lie within ``tolerance`` base standard deviations, on every
    feature, of a base row with the same label, then the rest of a benchmark row; a Chebyshev tree on the
    first ``probe`` features (as the pipeline's probe), its candidates checked on all. Returns the wall
    time."""
    features = [c for c in base.columns if c != "label"]
    started = time.perf_counter()
    scale = base[features].std(ddof=0).to_numpy()
    for label in (0, 1):
        queries = contribution.loc[contribution["label"] == label, features].to_numpy() / scale
        for frame in (base, bench):
            reference = frame.loc[frame["label"] == label, features].to_numpy() / scale
            tree = KDTree(np.ascontiguousarray(reference[:, :probe]), leaf_size=40, metric="chebyshev")
            near = np.ascontiguousarray(queries[:, :probe])
            candidates = np.flatnonzero(tree.query_radius(near, r=tolerance, count_only=True))
            neighbours = tree.query_radius(near[candidates], r=tolerance)
            asker = np.repeat(candidates, [len(n) for n in neighbours])
            answer = np.concatenate([*neighbours, np.zeros(0, dtype=np.intp)])
            close = np.abs(queries[asker] - reference[answer]).max(axis=1) <= tolerance
            queries = np.delete(queries, np.unique(asker[close]), axis=0)  # the rest go on to the benchmark
    return time.perf_counter() - started


def run_args(root: Path, contribution: Path | None = None) -> list[str]:
    """The command's arguments on P1's files (``contribution``: another contribution file)."""
    contribution = contribution or root / "contribution.parquet"
    return [
        "pipeline", "run", "--baseline", str(root / "baseline"), "--model-name", "p1-benchmark",
        "--train", str(root / "base.parquet"), "--benchmark", str(root / "benchmark.parquet"),
        "--contribution", str(contribution), "--contributor", WALLET,
        "--target", "label", "--out", str(root / "out"),
    ]  # fmt: skip


def in_process_run(root: Path, contribution: Path | None = None) -> float:
    """Wall time of ``hokusai pipeline run`` through its entry point, in this process."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            hokusai_main(run_args(root, contribution))
        except SystemExit as exc:  # 1: completed, DeltaOne not accepted
            if exc.code not in (0, 1, None):
                raise
    return time.perf_counter() - started


def pipeline_run(root: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall time of ``hokusai pipeline run`` as a child process and its per-step times."""
    command = [sys.executable, "-c", "from hokusai.cli import main; main()", *run_args(root)]
    started = time.perf_counter()
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if finished.returncode not in (0, 1):  # 1: completed, DeltaOne not accepted
        raise SystemExit(f"pipeline run failed ({finished.returncode}):\n{finished.stderr}")
    steps = [line.removeprefix("✓ ") for line in finished.stderr.splitlines() if line.startswith("✓ ")]
    return seconds, "; ".join(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        parts = generate(root, args.rows)
        baseline = HistGradientBoostingClassifier(random_state=SEED)
        baseline.fit(parts["base"].drop(columns="label"), parts["base"]["label"])
        save_model_dir(baseline, root / "baseline")
        train = pd.concat([parts["base"], parts["contribution"]], ignore_index=True)
        server = MlflowServer(mlflow_settings(root / "mlflow")).start()
        env = {
            **os.environ,
            "HOKUSAI_DATA_DIR": str(root / "state"),
            "HOKUSAI_TRACKING_URI": server.url,
            "HOKUSAI_SIGNER_KEY": SIGNER_KEY,
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith("HOKUSAI_")})
        try:
            cold, steps = pipeline_run(root, env)
            console.print(f"cold run (validates base and benchmark): {cold:.1f} s ({steps})", highlight=False)
            in_process_run(root)  # warm-up: this process imports what the command needs
            ours, child, bare = [], [], []
            for i in range(args.repeat):
                bare.append(bare_work(baseline, train, parts["benchmark"]))
                ours.append(in_process_run(root))
                seconds, steps = pipeline_run(root, env)
                child.append(seconds)
                load = os.getloadavg()[0]
                line = f"repetition {i + 1}: bare {bare[-1]:.1f} s, pipeline {ours[-1]:.1f} s"
                console.print(
                    f"{line}, child process {seconds:.1f} s ({steps}), load {load:.1f}", highlight=False
                )
        finally:
            server.stop()
    print_ratio(
        f"P1: pipeline run vs bare scikit-learn work ({args.rows:,} rows)",
        [
            ("hokusai pipeline run (entry point)", ours, "s"),
            ("hokusai pipeline run (child process)", child, "s"),
            ("bare fit + predict + metrics", bare, "s"),
        ],
        median(ours) / median(bare),
        "<= 1.3",
    )
    bare_median = median(bare)
    console.print(f"child process / bare = {median(child) / bare_median:.3f}")
    console.print(f"cold child process (validation not cached) / bare = {cold / bare_median:.3f}")


if __name__ == "__main__":
    main()
