"""Seeded stratified sampling: every class keeps its share of the rows (largest-remainder counts); a
continuous target (many distinct numbers: regression) is stratified on its deciles."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hokusai.evaluation.weights import largest_remainder

CONTINUOUS_DISTINCT = 20  # a float target with more distinct values is continuous
DECILES = 10


def stratified_sample(frame: pd.DataFrame, target: str, fraction: float, seed: int) -> pd.DataFrame:
    """About ``fraction`` of the rows of ``frame``, stratified on ``target``, in their original order."""
    if fraction >= 1.0 or frame.empty:
        return frame
    size = round(len(frame) * fraction)
    column = frame[target]
    if pd.api.types.is_float_dtype(column) and column.nunique() > CONTINUOUS_DISTINCT:
        codes = pd.qcut(column.rank(method="first"), q=DECILES, labels=False).to_numpy()
    else:
        codes, _ = pd.factorize(column, sort=True, use_na_sentinel=False)
    counts = np.bincount(codes)
    per_class = largest_remainder(counts.tolist(), size)
    rng = np.random.Generator(np.random.PCG64(seed))
    chosen = [
        rng.choice(np.flatnonzero(codes == label), size=take, replace=False)
        for label, take in enumerate(per_class)
        if take
    ]
    keep = np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=np.int64)
    return frame.iloc[keep]


def sample_fraction(rows: int, limit: int | None) -> float:
    """The fraction that keeps at most ``limit`` of ``rows`` (1.0 when no limit or already small)."""
    if limit is None or rows <= limit:
        return 1.0
    return limit / rows
