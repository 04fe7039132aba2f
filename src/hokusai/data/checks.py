"""Schema rules checked batch by batch: required and extra columns, nulls, types, ranges, allowed values.

Types are checked against what was read: a column declared ``int`` passes if it was read as integers,
as integral floats, or as text that spells integers; other values are counted with their rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hokusai.data.profile import EXAMPLE_ROWS
from hokusai.data.report import FindingSink
from hokusai.data.schema import ColumnSpec, ColumnType, Schema
from hokusai.data.values import is_text, plain

_INT = r"^\s*[+-]?\d+\s*$"
_FLOAT = r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$|^\s*[+-]?(?:inf|infinity|nan)\s*$"
_BOOL = r"^\s*(?:true|false|yes|no|t|f|y|n|0|1)\s*$"
_DATETIME = r"^\s*\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\s*$"


def _mask(values: pa.Array) -> np.ndarray:
    return values.fill_null(False).to_numpy(zero_copy_only=False)


def _matches(column: pa.Array, pattern: str) -> np.ndarray:
    return _mask(pc.match_substring_regex(column, pattern, ignore_case=True))


def conform(column: pa.Array, kind: ColumnType) -> tuple[np.ndarray, pa.Array | None]:
    """(mask of non-null values that are not ``kind``, the values as float64 where numeric)."""
    data_type = column.type
    present = ~column.is_null().to_numpy(zero_copy_only=False)
    none = np.zeros(len(column), dtype=bool)
    numeric = (
        pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type)
    )
    if pa.types.is_null(data_type) or kind in ("string", "category"):
        return none, None
    if kind in ("int", "float"):
        if numeric:
            numbers = column.cast(pa.float64())
            if kind == "int" and not pa.types.is_integer(data_type):
                integral = _mask(pc.equal(pc.floor(numbers), numbers))
                return present & ~integral, numbers
            return none, numbers
        if is_text(data_type):
            good = _matches(column, _INT if kind == "int" else _FLOAT)
            numbers = pc.if_else(pa.array(good), column, pa.scalar(None, data_type)).cast(pa.float64())
            return present & ~good, numbers
        return present, None
    if kind == "bool":
        if pa.types.is_boolean(data_type):
            return none, None
        if pa.types.is_integer(data_type):
            return present & ~_mask(pc.is_in(column, value_set=pa.array([0, 1], data_type))), None
        if is_text(data_type):
            return present & ~_matches(column, _BOOL), None
        return present, None
    if pa.types.is_timestamp(data_type) or pa.types.is_date(data_type):
        return none, None
    if is_text(data_type):
        return present & ~_matches(column, _DATETIME), None
    return present, None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def not_allowed(column: pa.Array, allowed: Sequence[object]) -> np.ndarray:
    """Mask of non-null values outside ``allowed`` (numbers compare by value, the rest as text)."""
    present = ~column.is_null().to_numpy(zero_copy_only=False)
    numbers = [v for v in allowed if isinstance(v, int | float) and not isinstance(v, bool)]
    data_type = column.type
    if (
        numbers
        and len(numbers) == len(allowed)
        and (pa.types.is_integer(data_type) or pa.types.is_floating(data_type))
    ):
        inside = pc.is_in(column.cast(pa.float64()), value_set=pa.array(numbers, pa.float64()))
    else:
        inside = pc.is_in(
            column.cast(pa.string()), value_set=pa.array([_text(v) for v in allowed], pa.string())
        )
    return present & ~_mask(inside)


class SchemaChecker:
    """Checks each batch of one file against a ``Schema``; findings go to a ``FindingSink``."""

    def __init__(self, schema: Schema, arrow_schema: pa.Schema, file: str, sink: FindingSink) -> None:
        self.file, self.sink = file, sink
        present = set(arrow_schema.names)
        for name, spec in schema.columns.items():
            if spec.required and name not in present:
                sink.add(file, name, "schema.required", 1, [], "error", "a required column is missing")
        if not schema.allow_extra_columns:
            for name in arrow_schema.names:
                if name not in schema.columns:
                    sink.add(file, name, "schema.extra", 1, [], "error", "the column is not in the schema")
        self.specs = {name: spec for name, spec in schema.columns.items() if name in present}

    def _report(self, column: str, rule: str, mask: np.ndarray, offset: int, message: str) -> None:
        count = int(mask.sum())
        if count:
            rows = [int(i) + offset + 1 for i in np.flatnonzero(mask)[:EXAMPLE_ROWS]]
            self.sink.add(self.file, column, rule, count, rows, "error", message)

    def add(self, batch: pa.RecordBatch, offset: int) -> None:
        for name, spec in self.specs.items():
            self._check(name, spec, plain(batch.column(name)), offset)

    def _check(self, name: str, spec: ColumnSpec, column: pa.Array, offset: int) -> None:
        if not spec.nullable and column.null_count:
            nulls = column.is_null().to_numpy(zero_copy_only=False)
            self._report(name, "schema.nullable", nulls, offset, "missing values in a non-nullable column")
        bad, numbers = conform(column, spec.type)
        self._report(name, "schema.type", bad, offset, f"values that are not {spec.type}")
        if numbers is not None and (spec.min is not None or spec.max is not None):
            values = numbers.fill_null(np.nan).to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                outside = np.zeros(len(values), dtype=bool)
                if spec.min is not None:
                    outside |= values < spec.min
                if spec.max is not None:
                    outside |= values > spec.max
            self._report(name, "schema.range", outside, offset, f"values outside [{spec.min}, {spec.max}]")
        if spec.allowed is not None:
            self._report(
                name,
                "schema.allowed",
                not_allowed(column, spec.allowed),
                offset,
                "values not in the allowed list",
            )
