"""Near-duplicate rows: a contributed row is a near-copy of a reference row when both have the same
label and categorical values, and every numeric feature is within ``tolerance`` after dividing by
the base data's standard deviation of that feature (a Chebyshev ball in scaled units).

The search is scikit-learn's ``KDTree`` (Chebyshev metric), one radius query per group of (label,
categorical values, which numeric features are missing); missing numeric values must be missing on
both sides. With more than ``PROBE_FEATURES`` numeric features the tree is built on the base's
``PROBE_FEATURES`` most varied ones only: a row within the tolerance on every feature is within it on
those, so the few rows that have a neighbour there are the only candidates, and their neighbours are
then checked on every feature. The answer is exact; the low-dimensional tree is several times
cheaper to build and to query (docs/benchmarks.md, V3). Where the probe features do not separate the
rows (more than ``pair_limit`` candidate pairs), the candidates are counted on a tree of every feature.
The reference is indexed in chunks of at most ``chunk_rows`` rows, built, queried and dropped one
after the other, so memory beyond the inputs stays at one chunk however large the base data is. Only
groups that have contributed rows are indexed at all. Group keys are 64-bit hashes, like the
exact-duplicate check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.neighbors import KDTree

DEFAULT_TOLERANCE = 0.05  # in base standard deviations, on every numeric feature
CHUNK_ROWS = 1 << 17  # 128k rows: measured the fastest, and memory beyond the inputs stays ~75 MiB
LEAF_SIZE = 40
PROBE_FEATURES = 5  # features of the first index: 4-6 measured as fast on 20; 3 lets most rows through
PAIR_LIMIT = 1 << 22  # candidate pairs checked one by one; beyond, a tree of every feature counts them
PAIR_BATCH = 1 << 16  # candidate pairs compared at a time (bounded temporary memory)


@dataclass(frozen=True)
class NearDuplicateRule:
    """Which columns are compared how, and the per-feature scale (base standard deviation)."""

    tolerance: float
    numeric: tuple[str, ...]
    exact: tuple[str, ...]  # the label and the categorical features: must be equal
    scale: np.ndarray
    probe: tuple[int, ...] = ()  # positions in ``numeric`` of the first index's features; () = all

    @classmethod
    def from_base(
        cls,
        base: pd.DataFrame,
        features: Sequence[str],
        target: str,
        tolerance: float,
        continuous_target: bool = False,
    ) -> NearDuplicateRule:
        """The rule for ``base``; a continuous (regression) target is compared within the tolerance like
        a numeric feature rather than for equality."""
        compared = [*features, target] if continuous_target else list(features)
        numeric = tuple(c for c in compared if _is_numeric(base[c].dtype))
        exact = (*(() if continuous_target else (target,)), *(c for c in features if c not in numeric))
        scale = np.array([_spread(base[c]) for c in numeric], dtype=float)
        return cls(
            tolerance=tolerance, numeric=numeric, exact=exact, scale=scale, probe=_probe(base, numeric)
        )

    def describe(self) -> dict[str, object]:
        """The rule as the evaluation report states it."""
        return {
            "tolerance": self.tolerance,
            "distance": "chebyshev (every numeric feature within tolerance)",
            "scale": "standard deviation of each numeric feature in the base data",
            "equal": list(self.exact),
        }


def _is_numeric(dtype: object) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _spread(column: pd.Series) -> float:
    """The feature's standard deviation in the base data; 1 when it is constant or all missing."""
    std = float(column.astype(float).std(ddof=0))
    return std if np.isfinite(std) and std > 0 else 1.0


def _probe(base: pd.DataFrame, numeric: Sequence[str], sample_rows: int = 20_000) -> tuple[int, ...]:
    """The ``PROBE_FEATURES`` numeric features with the most distinct values in an even sample of the
    base (the ones that separate rows best), in column order; () when there are no more than that."""
    if len(numeric) <= PROBE_FEATURES:
        return ()
    sample = base.iloc[:: max(1, len(base) // sample_rows)]
    distinct = np.array([sample[c].nunique() for c in numeric])
    chosen = np.argsort(-distinct, kind="stable")[:PROBE_FEATURES]
    return tuple(int(i) for i in np.sort(chosen))


def _group_keys(frame: pd.DataFrame, rule: NearDuplicateRule) -> np.ndarray:
    """One 64-bit hash per row of (exact columns, which numeric features are missing)."""
    keys = frame[list(rule.exact)]
    missing = [c for c in rule.numeric if frame[c].hasnans]
    if missing:
        keys = keys.assign(**{f"\0missing:{c}": frame[c].isna() for c in missing})
    return pd.util.hash_pandas_object(keys, index=False).to_numpy()


def _points(frame: pd.DataFrame, rows: np.ndarray, rule: NearDuplicateRule) -> np.ndarray:
    """Scaled numeric features of ``rows`` as a C-ordered float64 matrix, built column by column
    (no full-size temporary); a missing value becomes 0 (its group has it missing on both sides)."""
    points = np.empty((len(rows), len(rule.numeric)), dtype=np.float64)
    for j, column in enumerate(rule.numeric):
        series = frame[column]
        if isinstance(series.dtype, np.dtype):
            values = series.to_numpy()[rows].astype(np.float64, copy=False)
        else:  # an extension dtype (nullable integers ...)
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        points[:, j] = values
        points[:, j] /= rule.scale[j]
    np.nan_to_num(points, copy=False, nan=0.0)
    return points


def _groups(keys: np.ndarray) -> dict[int, np.ndarray]:
    """Row positions per key."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if not len(keys):
        return {}
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    return {int(sorted_keys[s]): order[s:e] for s, e in zip(starts, ends, strict=True)}


def near_copies(
    rule: NearDuplicateRule,
    reference: pd.DataFrame,
    queries: pd.DataFrame,
    *,
    chunk_rows: int = CHUNK_ROWS,
    pair_limit: int = PAIR_LIMIT,
) -> np.ndarray:
    """Which rows of ``queries`` are near-copies of some row of ``reference`` (boolean mask)."""
    found = np.zeros(len(queries), dtype=bool)
    if not len(queries) or not len(reference):
        return found
    if not rule.numeric:  # only exact columns: equal keys are copies
        return np.isin(_group_keys(queries, rule), _group_keys(reference, rule))
    wanted = _groups(_group_keys(queries, rule))
    for key, rows in _groups(_group_keys(reference, rule)).items():
        asked = wanted.get(key)
        if asked is None:
            continue
        points = _points(queries, asked, rule)
        for start in range(0, len(rows), chunk_rows):
            open_rows = ~found[asked]
            if not open_rows.any():
                break
            chunk = _points(reference, rows[start : start + chunk_rows], rule)
            found[asked[open_rows]] = _within(rule, chunk, points[open_rows], pair_limit)
    return found


def _within(
    rule: NearDuplicateRule, reference: np.ndarray, queries: np.ndarray, pair_limit: int
) -> np.ndarray:
    """Which ``queries`` have a ``reference`` point within the tolerance on every feature."""
    if not rule.probe:
        return _count_within(reference, queries, rule.tolerance) > 0
    probe = list(rule.probe)
    tree = KDTree(np.ascontiguousarray(reference[:, probe]), leaf_size=LEAF_SIZE, metric="chebyshev")
    near = np.ascontiguousarray(queries[:, probe])
    counts = tree.query_radius(near, r=rule.tolerance, count_only=True)
    candidates = np.flatnonzero(counts)
    found = np.zeros(len(queries), dtype=bool)
    if not len(candidates):
        return found
    if counts.sum() > pair_limit:  # the probe features do not separate these rows
        found[candidates] = _count_within(reference, queries[candidates], rule.tolerance) > 0
        return found
    neighbours = tree.query_radius(near[candidates], r=rule.tolerance)
    asker = np.repeat(candidates, counts[candidates])
    answer = np.concatenate(neighbours)
    for start in range(0, len(asker), PAIR_BATCH):
        q, r = asker[start : start + PAIR_BATCH], answer[start : start + PAIR_BATCH]
        close = np.abs(queries[q] - reference[r]).max(axis=1) <= rule.tolerance
        found[q[close]] = True
    return found


def _count_within(reference: np.ndarray, queries: np.ndarray, tolerance: float) -> np.ndarray:
    """How many ``reference`` points lie within ``tolerance`` of each query on every feature."""
    tree = KDTree(reference, leaf_size=LEAF_SIZE, metric="chebyshev")
    return tree.query_radius(queries, r=tolerance, count_only=True)
