"""``validate``: one streaming pass per file for stats, schema rules, PII, duplicates and label balance.

Memory per file: one batch, 8 bytes per row for the row hashes (exact duplicate detection), the
bounded distinct counters, and — with ``against`` — 8 bytes per distinct base row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hokusai.data.checks import SchemaChecker
from hokusai.data.hashes import data_hash
from hokusai.data.pii import PiiScanner
from hokusai.data.profile import EXAMPLE_ROWS, Profile, Profiler, batch_hashes
from hokusai.data.quality import LabelCounter, QualityThresholds, judge
from hokusai.data.readers import BatchStream, scan
from hokusai.data.report import FileResult, Finding, FindingSink, ValidationReport
from hokusai.data.schema import Schema, column_type, load_schema
from hokusai.data.values import repeated_positions, row_hashes, sorted_unique
from hokusai.errors import InvalidInput

PathLike = str | Path
Paths = PathLike | Sequence[PathLike]
FileProgress = Callable[[str, int, int], None]
"""Called with (file, bytes read so far, file size) as a file is read."""

_FAMILY = {"int": "number", "float": "number", "string": "text", "category": "text"}


def as_paths(paths: Paths) -> list[Path]:
    """One path or several, as a non-empty list of ``Path``."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise InvalidInput("no data files given")
    return [Path(item) for item in items]


def _file_progress(progress: FileProgress | None, path: Path) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(str(path), done, total)


def _duplicate_rows(hashes: np.ndarray) -> tuple[int, list[int]]:
    """(rows equal to an earlier row, the first 5 such row numbers)."""
    rows = repeated_positions(hashes)
    return len(rows), [int(i) + 1 for i in rows[:EXAMPLE_ROWS]]


class BaseRows:
    """The distinct row hashes of the ``--against`` dataset, over its columns in its order."""

    def __init__(
        self, columns: list[str], types: dict[str, str], hashes: np.ndarray, paths: list[Path]
    ) -> None:
        self.columns, self.types, self.hashes, self.paths = columns, types, hashes, paths

    @classmethod
    def load(cls, paths: list[Path], progress: FileProgress | None = None) -> BaseRows:
        columns: list[str] = []
        types: dict[str, str] = {}
        chunks: list[np.ndarray] = []
        for path in paths:

            def consume(stream: BatchStream, path: Path = path) -> list[np.ndarray]:
                if path == paths[0]:  # the first file defines the columns (again after a re-read)
                    columns[:] = stream.schema.names
                    types.clear()
                    types.update(
                        {f.name: column_type(f.type) for f in stream.schema if not pa.types.is_null(f.type)}
                    )
                missing = [name for name in columns if name not in stream.schema.names]
                if missing:
                    raise InvalidInput(f"{path}: base file lacks column {missing[0]!r} of {paths[0]}")
                found = []
                for batch in stream:
                    hashes = batch_hashes(batch.select(columns))
                    found.append(
                        sorted_unique(row_hashes([hashes[name] for name in columns], batch.num_rows))
                    )
                return found

            chunks.extend(scan(path, consume, progress=_file_progress(progress, path)))
        merged = sorted_unique(np.concatenate(chunks)) if chunks else np.empty(0, dtype=np.uint64)
        return cls(columns, types, merged, paths)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        if not len(self.hashes):
            return np.zeros(len(hashes), dtype=bool)
        index = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return self.hashes[index] == hashes


class _FilePass:
    """Everything validation learns about one file, in one pass over its batches."""

    def __init__(
        self,
        *,
        schema: Schema | None,
        label: str | None,
        thresholds: QualityThresholds,
        allow_pii: bool,
        base: BaseRows | None,
    ) -> None:
        self.schema, self.label, self.thresholds = schema, label, thresholds
        self.allow_pii, self.base = allow_pii, base

    def _base_columns(self, file: str, arrow_schema: pa.Schema, sink: FindingSink) -> bool:
        """Compare the file's columns with the base's; True when base rows can be matched."""
        assert self.base is not None
        names = set(arrow_schema.names)
        missing = [name for name in self.base.columns if name not in names]
        for name in missing:
            sink.add(
                file, name, "against.missing_column", 1, [], "error", "a column of the base data is missing"
            )
        for field in arrow_schema:
            expected = self.base.types.get(field.name)
            if field.name not in self.base.columns:
                sink.add(
                    file,
                    field.name,
                    "against.extra_column",
                    1,
                    [],
                    "warning",
                    "the base data has no such column",
                )
            elif expected and not pa.types.is_null(field.type):
                actual = column_type(field.type)
                if _FAMILY.get(actual, actual) != _FAMILY.get(expected, expected):
                    sink.add(
                        file,
                        field.name,
                        "against.type",
                        1,
                        [],
                        "error",
                        f"is {actual} here, {expected} in the base data",
                    )
        return not missing

    def run(self, stream: BatchStream) -> tuple[Profile, list[Finding]]:
        file, names = str(stream.path), stream.schema.names
        sink = FindingSink()
        profiler = Profiler(stream.schema)
        checker = SchemaChecker(self.schema, stream.schema, file, sink) if self.schema else None
        exempt = {n for n, spec in self.schema.columns.items() if not spec.pii} if self.schema else set()
        pii = PiiScanner(stream.schema, file, sink, allow_pii=self.allow_pii, exempt=exempt)
        labels = None
        if self.label is not None:
            if self.label in names:
                labels = LabelCounter(self.thresholds.max_label_classes)
            else:
                sink.add(file, self.label, "label.absent", 1, [], "error", "the label column is missing")
        base = self.base if self.base is not None and self._base_columns(file, stream.schema, sink) else None
        row_chunks: list[np.ndarray] = []
        base_hits, base_rows = 0, list[int]()
        for batch in stream:
            offset = profiler.rows
            hashes = batch_hashes(batch)
            profiler.add(batch, hashes)
            if checker:
                checker.add(batch, offset)
            pii.add(batch, offset)
            if labels:
                labels.add(batch.column(self.label), offset)
            row_chunks.append(row_hashes([hashes[name] for name in names], batch.num_rows))
            if base is not None:
                hits = base.contains(row_hashes([hashes[n] for n in base.columns], batch.num_rows))
                base_hits += int(hits.sum())
                base_rows.extend(
                    int(i) + offset + 1 for i in np.flatnonzero(hits)[: EXAMPLE_ROWS - len(base_rows)]
                )
        profile = profiler.finish(stream.path, stream.format)
        all_rows = np.concatenate(row_chunks) if row_chunks else np.empty(0, dtype=np.uint64)
        del row_chunks
        judge(
            profile,
            sink,
            self.thresholds,
            label=self.label if labels else None,
            labels=labels,
            duplicates=_duplicate_rows(all_rows),
            base_duplicates=(base_hits, base_rows) if base is not None else None,
        )
        return profile, sink.findings()


def resolve_thresholds(
    schema: Schema | None, thresholds: QualityThresholds | Mapping[str, Any] | None
) -> QualityThresholds:
    """Defaults, then the schema's ``quality:`` section, then ``thresholds`` (object or overrides)."""
    base = schema.quality if schema is not None and schema.quality is not None else QualityThresholds()
    if thresholds is None:
        return base
    if isinstance(thresholds, QualityThresholds):
        return thresholds
    return base.with_overrides(thresholds)


def validate(
    paths: Paths,
    *,
    schema: Schema | PathLike | None = None,
    against: Paths | None = None,
    allow_pii: bool = False,
    thresholds: QualityThresholds | Mapping[str, Any] | None = None,
    label: str | None = None,
    progress: FileProgress | None = None,
) -> ValidationReport:
    """Validate data files: schema rules, PII, quality; ``.valid`` is False when any error was found.

    ``against`` names base data: rows already in it are counted and its columns must be present.
    ``allow_pii`` turns PII findings into warnings. ``thresholds`` replaces or overrides the schema's
    (or the default) quality thresholds. ``label`` overrides the schema's label column.
    """
    files = as_paths(paths)
    loaded = load_schema(schema) if isinstance(schema, str | Path) else schema
    limits = resolve_thresholds(loaded, thresholds)
    label = label or (loaded.label if loaded else None)
    base = BaseRows.load(as_paths(against), progress) if against is not None else None
    file_pass = _FilePass(schema=loaded, label=label, thresholds=limits, allow_pii=allow_pii, base=base)
    results, findings = [], []
    for path in files:
        profile, found = scan(path, file_pass.run, progress=_file_progress(progress, path))
        results.append(FileResult(profile, data_hash(path)))
        findings.extend(found)
    extra = {"against": [str(p) for p in base.paths]} if base else {}
    return ValidationReport(results, findings, limits.model_dump(), allow_pii, label, extra)
