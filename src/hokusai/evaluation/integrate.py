"""Validate contributions against the base data and merge them into the candidate's training set.

Rows are compared whole (features and label, after casting to the base data's dtypes) by a 64-bit
row hash. A base row that is also in the benchmark is leakage and stops the run. A contributed row
already in the base data, in the benchmark, or in an earlier contribution is dropped and counted;
so is a contributed row without a label. Repeats inside one contribution are kept (they are data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hokusai.errors import InvalidData, InvalidInput


@dataclass(frozen=True)
class ContributionRows:
    """What happened to one contribution's rows."""

    submitted: int
    used: int
    duplicate_of_base: int
    duplicate_of_benchmark: int
    duplicate_of_earlier_contribution: int
    missing_label: int


@dataclass(frozen=True)
class Integration:
    """Aligned frames: base, benchmark and each contribution's surviving rows (base column order)."""

    base: pd.DataFrame
    benchmark: pd.DataFrame
    contributions: list[pd.DataFrame]
    rows: list[ContributionRows]

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


def integrate(
    base: pd.DataFrame,
    benchmark: pd.DataFrame,
    contributions: Sequence[pd.DataFrame],
    target: str,
    names: Sequence[str] | None = None,
) -> Integration:
    """Check schemas and leakage, drop duplicated contributed rows, count everything."""
    require_target(base, target, "base training data")
    require_target(benchmark, target, "benchmark")
    names = list(names or (f"contribution {i + 1}" for i in range(len(contributions))))
    bench = align(benchmark, base, "benchmark")
    base_keys, bench_keys = row_hashes(base), row_hashes(bench)
    leaked = int(np.isin(base_keys, bench_keys).sum())
    if leaked:
        raise InvalidData(
            f"{leaked} rows of the base training data are also in the benchmark: the benchmark must "
            "never be used for training; remove them from one of the two files",
            code="benchmark_leakage",
        )
    seen = np.empty(0, dtype=np.uint64)
    kept, rows = [], []
    for frame, name in zip(contributions, names, strict=True):
        labeled = frame[frame[target].notna()] if target in frame.columns else frame
        aligned = align(labeled, base, name)
        keys = row_hashes(aligned)
        in_base = np.isin(keys, base_keys)
        in_bench = np.isin(keys, bench_keys) & ~in_base
        in_earlier = np.isin(keys, seen) & ~in_base & ~in_bench
        keep = ~(in_base | in_bench | in_earlier)
        kept.append(aligned[keep])
        seen = np.concatenate([seen, keys[keep]])
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
    return Integration(base=base, benchmark=bench, contributions=kept, rows=rows)
