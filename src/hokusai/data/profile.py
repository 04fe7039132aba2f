"""Per-file facts gathered in one streaming pass: rows, columns, types, null and distinct counts.

These are the fields of ``$defs/data_manifest`` in the attestation schema. Distinct counts are exact
up to ``values.UNIQUE_EXACT_CAP`` distinct values per column and estimated beyond (see
``DistinctCounter``); ``Profile.unique_exact`` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hokusai.data.formats import DataFormat
from hokusai.data.values import UNIQUE_EXACT_CAP, DistinctCounter, value_hashes

EXAMPLE_ROWS = 5


def batch_hashes(batch: pa.RecordBatch) -> dict[str, np.ndarray]:
    """Value hashes of every column of ``batch``, computed once and shared by all checks."""
    return {name: value_hashes(batch.column(i)) for i, name in enumerate(batch.schema.names)}


@dataclass
class Profile:
    """What one streaming pass learned about one file."""

    path: Path
    format: DataFormat
    size_bytes: int
    columns: list[str]
    dtypes: dict[str, str]
    rows: int
    null_counts: dict[str, int]
    unique_counts: dict[str, int]
    unique_exact: dict[str, bool]
    null_rows: dict[str, list[int]] = field(default_factory=dict)

    def data_manifest(self, data_hash: str) -> dict[str, Any]:
        """The ``$defs/data_manifest`` object of the attestation schema for this file."""
        return {
            "source_path": str(self.path),
            "row_count": self.rows,
            "column_count": len(self.columns),
            "columns": list(self.columns),
            "data_hash": data_hash,
            "dtypes": dict(self.dtypes),
            "null_counts": dict(self.null_counts),
            "unique_counts": dict(self.unique_counts),
        }


class Profiler:
    """Accumulates a ``Profile`` batch by batch."""

    def __init__(self, schema: pa.Schema, *, unique_cap: int = UNIQUE_EXACT_CAP) -> None:
        self.schema = schema
        self.rows = 0
        self.nulls = dict.fromkeys(schema.names, 0)
        self.null_rows: dict[str, list[int]] = {name: [] for name in schema.names}
        self.distinct = {name: DistinctCounter(unique_cap) for name in schema.names}

    def add(self, batch: pa.RecordBatch, hashes: dict[str, np.ndarray]) -> None:
        for index, name in enumerate(batch.schema.names):
            column = batch.column(index)
            if column.null_count:
                self.nulls[name] += column.null_count
                mask = column.is_null().to_numpy(zero_copy_only=False)
                examples = self.null_rows[name]
                if len(examples) < EXAMPLE_ROWS:
                    found = np.flatnonzero(mask)[: EXAMPLE_ROWS - len(examples)]
                    examples.extend(int(i) + self.rows + 1 for i in found)
                self.distinct[name].add(hashes[name][~mask])
            else:
                self.distinct[name].add(hashes[name])
        self.rows += batch.num_rows

    def finish(self, path: Path, fmt: DataFormat) -> Profile:
        return Profile(
            path=path,
            format=fmt,
            size_bytes=path.stat().st_size,
            columns=list(self.schema.names),
            dtypes={f.name: str(f.type) for f in self.schema},
            rows=self.rows,
            null_counts=dict(self.nulls),
            unique_counts={name: counter.count() for name, counter in self.distinct.items()},
            unique_exact={name: counter.exact for name, counter in self.distinct.items()},
            null_rows=self.null_rows,
        )
