"""P1: `hokusai pipeline run` on 1M generated rows, divided by the bare scikit-learn work, same script.

Data: make_classification, 20 features; base 600k, contribution 200k, benchmark 200k rows (Parquet).
Baseline: HistGradientBoostingClassifier fitted on the base rows (setup, not timed).
Bare work (in this process, data already in memory): fit the seeded clone on base + contribution,
predict (labels and probabilities) with both models on the benchmark, compute accuracy, precision,
recall, F1 and AUROC with scikit-learn. Pipeline: the `hokusai pipeline run` command as a child
process (start-up, reading, validation, integration, training, scoring, intervals, weights, plots,
attestation, MLflow run and registration on a real MLflow server), wall time.
The first pipeline run validates the base data and benchmark (cold); later runs reuse the cached
verdicts, as every evaluation against the same model does. Both are reported; the ratio uses the
warm runs, interleaved with the bare runs.

Usage: python benchmarks/pipeline.py [--repeat 3] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import console, median, print_ratio
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

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


def pipeline_run(root: Path, env: dict[str, str]) -> tuple[float, dict]:
    command = [
        sys.executable, "-c", "from hokusai.cli import main; main()", "pipeline", "run",
        "--baseline", str(root / "baseline"), "--model-name", "p1-benchmark",
        "--train", str(root / "base.parquet"), "--benchmark", str(root / "benchmark.parquet"),
        "--contribution", str(root / "contribution.parquet"), "--contributor", WALLET,
        "--target", "label", "--out", str(root / "out"), "--json",
    ]  # fmt: skip
    started = time.perf_counter()
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if finished.returncode not in (0, 1) or not finished.stdout.strip():
        raise SystemExit(f"pipeline run failed ({finished.returncode}):\n{finished.stderr}")
    try:
        return seconds, json.loads(finished.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"unexpected output: {finished.stdout[:2000]}") from None


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
        try:
            cold, result = pipeline_run(root, env)
            console.print(
                f"cold run (validates base and benchmark): {cold:.1f} s, outcome {result['outcome']}"
            )
            ours, bare = [], []
            for i in range(args.repeat):
                bare.append(bare_work(baseline, train, parts["benchmark"]))
                seconds, result = pipeline_run(root, env)
                ours.append(seconds)
                console.print(
                    f"repetition {i + 1}: bare {bare[-1]:.1f} s, pipeline {ours[-1]:.1f} s", highlight=False
                )
        finally:
            server.stop()
    print_ratio(
        f"P1: pipeline run vs bare scikit-learn work ({args.rows:,} rows)",
        [("hokusai pipeline run (warm)", ours, "s"), ("bare fit + predict + metrics", bare, "s")],
        median(ours) / median(bare),
        "<= 1.3",
    )
    console.print(f"cold pipeline run / median bare = {cold / median(bare):.3f}")


if __name__ == "__main__":
    main()
