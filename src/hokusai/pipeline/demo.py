"""The demo: a complete evaluation on scikit-learn's bundled breast cancer data (no download).

Story: a model owner trained a gradient-boosted tree model on an early, small sample (40 labelled rows).
A contributor brings the other real rows of the same hospital study. The benchmark is a fixed,
stratified 45 % of the data that neither model trains on. More real data genuinely helps, so the
candidate's AUROC is higher and the paired interval excludes zero: an accepted DeltaOne.
Everything is seeded; the files and the baseline are the same bytes on every run.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
from eth_account import Account
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

from hokusai.files import atomic_write_bytes
from hokusai.pipeline.spec import DEFAULT_SEED, Contribution, PipelineSpec
from hokusai.tracking.models import save_model_dir

DEMO_MODEL_NAME = "hokusai-demo-breast-cancer"
TARGET = "diagnosis_benign"
BASE_ROWS = 40
BENCHMARK_SHARE = 0.45
# a fixed, well-known demo identity (derived from a public phrase: never use it for real funds)
DEMO_CONTRIBUTOR = Account.from_key(hashlib.sha256(b"hokusai demo contributor").digest()).address


def demo_frames(seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(base, contribution, benchmark) frames of the breast cancer data, split deterministically."""
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace(" ", "_")).rename(columns={"target": TARGET})
    labels = frame[TARGET]
    rest, benchmark = train_test_split(frame, test_size=BENCHMARK_SHARE, stratify=labels, random_state=seed)
    base, contribution = train_test_split(
        rest, train_size=BASE_ROWS, stratify=rest[TARGET], random_state=seed
    )
    return base, contribution, benchmark


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    return atomic_write_bytes(path, frame.to_csv(index=False).encode())


def prepare_demo(directory: Path, out_dir: Path | None = None, seed: int = DEFAULT_SEED) -> PipelineSpec:
    """Write the demo's data files and baseline model into ``directory``; the spec that evaluates them."""
    base, contribution, benchmark = demo_frames(seed)
    features = [c for c in base.columns if c != TARGET]
    baseline = HistGradientBoostingClassifier(random_state=seed).fit(base[features], base[TARGET])
    model_dir = directory / "baseline_model"
    contribution_path = directory / "contribution.csv"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    save_model_dir(baseline, model_dir)
    return PipelineSpec(
        baseline=str(model_dir),
        train=_write_csv(base, directory / "base.csv"),
        benchmark=_write_csv(benchmark, directory / "benchmark.csv"),
        contributions=(Contribution(_write_csv(contribution, contribution_path), DEMO_CONTRIBUTOR),),
        target=TARGET,
        seed=seed,
        model_name=DEMO_MODEL_NAME,
        out_dir=out_dir,
    )
