"""Validate contributions against the base data and merge them into the candidate's training set.

Rows are compared whole (features and label, after casting to the base data's dtypes) by a 64-bit
row hash. A base row that is also in the benchmark is leakage and stops the run. A contributed row
already in the base data, in the benchmark, or in an earlier contribution is dropped and counted;
so is a contributed row without a label. Then the same for near-copies (``neardup``: same label and
categorical values, every numeric feature within a tolerance in base standard deviations): they
carry no new information (of a benchmark row: leakage), so they are dropped and counted too.
Repeats inside one contribution are kept (they are data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from hokusai.errors import InvalidData, InvalidInput
from hokusai.evaluation.neardup import DEFAULT_TOLERANCE, NearDuplicateRule, near_copies


@dataclass(frozen=True)
class ContributionRows:
    """What happened to one contribution's rows."""

    submitted: int
    used: int
    duplicate_of_base: int
    duplicate_of_benchmark: int
    duplicate_of_earlier_contribution: int
    missing_label: int
    near_duplicate_of_base: int = 0
    near_duplicate_of_benchmark: int = 0
    near_duplicate_of_earlier_contribution: int = 0


@dataclass(frozen=True)
class Integration:
    """Aligned frames: base, benchmark and each contribution's surviving rows (base column order)."""

    base: pd.DataFrame
    benchmark: pd.DataFrame
    contributions: list[pd.DataFrame]
    rows: list[ContributionRows]
    near_duplicates: NearDuplicateRule | None = None

    @property
    def contributed_rows(self) -> int:
        return sum(r.used for r in self.rows)


def require_target(frame: pd.DataFrame, target: str, name: str) -> None:
    """A clear error when ``frame`` has no ``target`` column or unlabeled rows."""
    if target not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:20]))
        raise InvalidInput(
            f"the {name} has no target column {target!r} (its columns: {shown}); check --target",
            code="missing_target",
        )
    missing = int(frame[target].isna().sum())
    if missing:
        raise InvalidData(f"the {name} has {missing} rows without a value in target column {target!r}")


def align(frame: pd.DataFrame, reference: pd.DataFrame, name: str) -> pd.DataFrame:
    """``frame`` with ``reference``'s columns, order and dtypes, or a clear schema error."""
    expected, actual = list(reference.columns), list(frame.columns)
    missing = [c for c in expected if c not in actual]
    extra = [c for c in actual if c not in expected]
    if missing or extra:
        raise InvalidData(
            f"the {name} does not match the base data's schema: "
            f"missing columns {missing or 'none'}, unexpected columns {extra or 'none'}",
            code="schema_mismatch",
            details={"missing": missing, "unexpected": extra},
        )
    aligned = {}
    for column in expected:
        dtype = reference[column].dtype
        try:
            aligned[column] = frame[column].astype(dtype)
        except (TypeError, ValueError) as exc:
            raise InvalidData(
                f"column {column!r} of the {name} cannot be read as {dtype} like the base data: {exc}",
                code="schema_mismatch",
            ) from None
    return pd.DataFrame(aligned, index=frame.index)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row over all columns (index ignored)."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which ``keys`` occur in ``sorted_keys`` (binary search; ``np.isin`` sorts again on every call)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    found = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[found] == keys


def integrate(
    base: pd.DataFrame,
    benchmark: pd.DataFrame,
    contributions: Sequence[pd.DataFrame],
    target: str,
    names: Sequence[str] | None = None,
    *,
    features: Sequence[str] | None = None,
    near_tolerance: float | None = DEFAULT_TOLERANCE,
    continuous_target: bool = False,
) -> Integration:
    """Check schemas and leakage, drop duplicated and near-duplicated contributed rows, count all.

    Near-copies are judged on ``features`` (default: every column but the target); ``None`` as
    ``near_tolerance`` turns that check off.
    """
    require_target(base, target, "base training data")
    require_target(benchmark, target, "benchmark")
    names = list(names or (f"contribution {i + 1}" for i in range(len(contributions))))
    bench = align(benchmark, base, "benchmark")
    base_keys, bench_keys = row_hashes(base), np.sort(row_hashes(bench))
    leaked = int(member(bench_keys, base_keys).sum())
    if leaked:
        raise InvalidData(
            f"{leaked} rows of the base training data are also in the benchmark: the benchmark must "
            "never be used for training; remove them from one of the two files",
            code="benchmark_leakage",
        )
    base_keys = np.sort(base_keys)
    seen = np.empty(0, dtype=np.uint64)
    kept, rows = [], []
    for frame, name in zip(contributions, names, strict=True):
        labeled = frame[frame[target].notna()] if target in frame.columns else frame
        aligned = align(labeled, base, name)
        keys = row_hashes(aligned)
        in_base = member(base_keys, keys)
        in_bench = member(bench_keys, keys) & ~in_base
        in_earlier = member(seen, keys) & ~in_base & ~in_bench
        keep = ~(in_base | in_bench | in_earlier)
        kept.append(aligned[keep])
        seen = np.sort(np.concatenate([seen, keys[keep]]))
        rows.append(
            ContributionRows(
                submitted=len(frame),
                used=int(keep.sum()),
                duplicate_of_base=int(in_base.sum()),
                duplicate_of_benchmark=int(in_bench.sum()),
                duplicate_of_earlier_contribution=int(in_earlier.sum()),
                missing_label=len(frame) - len(labeled),
            )
        )
    if near_tolerance is None:
        return Integration(base=base, benchmark=bench, contributions=kept, rows=rows)
    columns = list(features) if features is not None else [c for c in base.columns if c != target]
    rule = NearDuplicateRule.from_base(base, columns, target, near_tolerance, continuous_target)
    kept, rows = _drop_near_copies(rule, base, bench, kept, rows)
    return Integration(base=base, benchmark=bench, contributions=kept, rows=rows, near_duplicates=rule)


def _drop_near_copies(
    rule: NearDuplicateRule,
    base: pd.DataFrame,
    bench: pd.DataFrame,
    contributions: list[pd.DataFrame],
    rows: list[ContributionRows],
) -> tuple[list[pd.DataFrame], list[ContributionRows]]:
    """Near-copies of base rows, then of benchmark rows (all contributions in one query each, so
    the base data is indexed once), then of earlier contributions' surviving rows."""
    if not any(len(c) for c in contributions):
        return contributions, rows
    pooled = pd.concat(contributions, ignore_index=True)
    of_base = near_copies(rule, base, pooled)
    of_bench = np.zeros_like(of_base)
    of_bench[~of_base] = near_copies(rule, bench, pooled[~of_base])
    bounds = np.cumsum([0, *(len(c) for c in contributions)])
    kept: list[pd.DataFrame] = []
    counted: list[ContributionRows] = []
    for i, (frame, row) in enumerate(zip(contributions, rows, strict=True)):
        near_base, near_bench = of_base[bounds[i] : bounds[i + 1]], of_bench[bounds[i] : bounds[i + 1]]
        remaining = frame[~(near_base | near_bench)]
        earlier = [k for k in kept if len(k)]
        of_earlier = (
            near_copies(rule, pd.concat(earlier, ignore_index=True), remaining)
            if earlier
            else np.zeros(len(remaining), dtype=bool)
        )
        kept.append(remaining[~of_earlier])
        counted.append(
            replace(
                row,
                used=len(remaining) - int(of_earlier.sum()),
                near_duplicate_of_base=int(near_base.sum()),
                near_duplicate_of_benchmark=int(near_bench.sum()),
                near_duplicate_of_earlier_contribution=int(of_earlier.sum()),
            )
        )
    return kept, counted
