"""A small regression case (scikit-learn's Friedman #1 function, no download): a baseline regressor
trained on a few rows, a contribution of many more rows from the same process, a fixed benchmark. More
real data lowers the RMSE by far more than its paired interval, so the run is an accepted DeltaOne."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.datasets import make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor

from hokusai.tracking.models import save_model_dir

TARGET = "demand"
BASE_ROWS, CONTRIBUTION_ROWS, BENCHMARK_ROWS = 120, 1200, 600


@dataclass(frozen=True)
class RegressionFiles:
    base: Path
    contribution: Path
    benchmark: Path
    model_dir: Path
    target: str = TARGET


def regression_files(directory: Path, seed: int = 0) -> RegressionFiles:
    """Write the case's CSV files and skops baseline into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = BASE_ROWS + CONTRIBUTION_ROWS + BENCHMARK_ROWS
    features, target = make_friedman1(n_samples=rows, n_features=6, noise=0.5, random_state=seed)
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(6)]).assign(**{TARGET: target})
    parts = {
        "base": frame.iloc[:BASE_ROWS],
        "contribution": frame.iloc[BASE_ROWS : BASE_ROWS + CONTRIBUTION_ROWS],
        "benchmark": frame.iloc[BASE_ROWS + CONTRIBUTION_ROWS :],
    }
    paths = {}
    for name, part in parts.items():
        paths[name] = directory / f"{name}.csv"
        part.to_csv(paths[name], index=False)
    base = parts["base"]
    baseline = HistGradientBoostingRegressor(max_iter=60, random_state=seed)
    save_model_dir(baseline.fit(base.drop(columns=TARGET), base[TARGET]), directory / "baseline_model")
    model_dir = directory / "baseline_model"
    return RegressionFiles(paths["base"], paths["contribution"], paths["benchmark"], model_dir)
