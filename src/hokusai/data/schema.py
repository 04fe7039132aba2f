"""The data schema file (JSON or YAML): columns, types, nullability, allowed values, ranges, label.

Example (YAML)::

    version: 1
    label: churned
    allow_extra_columns: true
    columns:
      age: {type: int, nullable: false, min: 0, max: 130}
      plan: {type: category, allowed: [free, pro]}
      notes: {type: string, pii: true}
    quality: {max_missing_ratio: 0.2}

``infer_schema`` writes one from a sample of a file; ``check_compatible`` tells whether a file has the
columns and types of a reference (a base dataset or a schema).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hokusai.data.quality import QualityThresholds
from hokusai.data.readers import scan
from hokusai.data.values import is_text, plain
from hokusai.errors import InvalidData, InvalidInput, NotFound
from hokusai.files import atomic_write_bytes

ColumnType = Literal["int", "float", "string", "bool", "datetime", "category"]
Scalar = bool | int | float | str

DEFAULT_SAMPLE_ROWS = 10_000
CATEGORY_MAX_VALUES = 20
LABEL_NAMES = ("label", "target", "y", "class", "outcome")
_FAMILY = {
    "int": "number",
    "float": "number",
    "string": "text",
    "category": "text",
    "bool": "bool",
    "datetime": "datetime",
}


class ColumnSpec(BaseModel):
    """Rules for one column."""

    model_config = ConfigDict(extra="forbid")

    type: ColumnType = Field(description="int, float, string, bool, datetime or category.")
    required: bool = Field(True, description="The column must be present.")
    nullable: bool = Field(True, description="Missing values are allowed.")
    allowed: list[Scalar] | None = Field(None, description="The only values allowed.")
    min: float | None = Field(None, description="Smallest allowed value (int/float columns).")
    max: float | None = Field(None, description="Largest allowed value (int/float columns).")
    pii: bool = Field(True, description="Scan the column for PII; false exempts it (e.g. hashes).")

    @model_validator(mode="after")
    def _range_is_ordered(self) -> ColumnSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Schema(BaseModel):
    """A data schema: what every file of a dataset must look like."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    label: str | None = Field(None, description="The label (target) column.")
    allow_extra_columns: bool = Field(True, description="Columns not listed are allowed.")
    columns: dict[str, ColumnSpec]
    quality: QualityThresholds | None = None

    @model_validator(mode="after")
    def _label_is_a_column(self) -> Schema:
        if self.label is not None and self.label not in self.columns:
            raise ValueError(f"label {self.label!r} is not one of the columns")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_file(self, path: str | Path) -> Path:
        """Write the schema atomically: YAML for ``.yaml``/``.yml``, JSON otherwise."""
        path = Path(path)
        if path.suffix.lower() in (".yaml", ".yml"):
            text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        return atomic_write_bytes(path, text.encode("utf-8"))

    def differences(self, other: Schema) -> list[str]:
        """How ``other`` differs from this (reference) schema: missing columns, other type families."""
        problems = [
            f"missing column {name!r}"
            for name, spec in self.columns.items()
            if spec.required and name not in other.columns
        ]
        for name, spec in self.columns.items():
            theirs = other.columns.get(name)
            if theirs is not None and _FAMILY[theirs.type] != _FAMILY[spec.type]:
                problems.append(f"column {name!r} is {theirs.type}, expected {spec.type}")
        if not self.allow_extra_columns:
            problems += [f"unexpected column {name!r}" for name in other.columns if name not in self.columns]
        return problems


def load_schema(path: str | Path) -> Schema:
    """Read and check a schema file (JSON or YAML); any problem is one ``InvalidInput`` line."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"{path}: no such schema file", code="file_not_found")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(
            f"{path}: schema: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {detail}"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: schema: expected a mapping with 'columns', found {type(data).__name__}")
    try:
        return Schema.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "schema"
        raise InvalidInput(f"{path}: schema: {where}: {error['msg']}") from None


def column_type(data_type: pa.DataType) -> ColumnType:
    """The schema type of an Arrow type."""
    if pa.types.is_dictionary(data_type):
        return "category"
    if pa.types.is_boolean(data_type):
        return "bool"
    if pa.types.is_integer(data_type):
        return "int"
    if pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "float"
    if pa.types.is_timestamp(data_type) or pa.types.is_date(data_type):
        return "datetime"
    return "string"


def _sample(path: str | Path, rows: int) -> pa.Table:
    def consume(stream: Any) -> pa.Table:
        batches, count = [], 0
        for batch in stream:
            batches.append(batch)
            count += batch.num_rows
            if count >= rows:
                break
        return pa.Table.from_batches(batches, schema=stream.schema).slice(0, rows)

    return scan(path, consume)


def _column_spec(column: pa.ChunkedArray) -> ColumnSpec:
    kind = column_type(column.type)
    values = plain(column.combine_chunks()) if column.num_chunks else pa.array([], column.type)
    present = values.drop_null()
    spec: dict[str, Any] = {"type": kind, "nullable": values.null_count > 0}
    if pa.types.is_null(column.type):
        spec["type"] = "string"
    elif is_text(values.type) or kind == "category":
        distinct = pc.unique(present)
        if 0 < len(distinct) <= CATEGORY_MAX_VALUES and len(distinct) * 2 <= len(present):
            spec["type"] = "category"
            spec["allowed"] = sorted(distinct.to_pylist())
    return ColumnSpec(**spec)


def infer_schema(
    path: str | Path, sample_rows: int = DEFAULT_SAMPLE_ROWS, *, label: str | None = None
) -> Schema:
    """A schema from the first ``sample_rows`` rows: types, nullability, categories, the label.

    Text columns with few distinct values (at most 20, each seen twice on average) become categories
    with their values listed. The label is ``label`` or a column named label/target/y/class/outcome.
    Everything inferred from a sample should be reviewed before the schema is used.
    """
    table = _sample(path, max(sample_rows, 1))
    if table.num_rows == 0:
        raise InvalidInput(f"{path}: no data rows to infer a schema from", code="no_rows")
    if label is not None and label not in table.column_names:
        raise InvalidInput(f"{path}: no label column {label!r} (columns: {', '.join(table.column_names)})")
    if label is None:
        label = next((name for name in table.column_names if name.lower() in LABEL_NAMES), None)
    columns = {name: _column_spec(table.column(name)) for name in table.column_names}
    return Schema(label=label, columns=columns)


def schema_of(source: str | Path | Schema, sample_rows: int = DEFAULT_SAMPLE_ROWS) -> Schema:
    """``source`` itself if it is a Schema, else the schema inferred from the data file ``source``."""
    return source if isinstance(source, Schema) else infer_schema(source, sample_rows)


def check_compatible(path: str | Path, reference: str | Path | Schema) -> Schema:
    """Raise ``InvalidData`` unless ``path`` has the reference's columns and type families.

    ``reference`` is a ``Schema`` or a data file (e.g. the base dataset; its schema is inferred).
    Numbers (int/float) match each other, as do text and categories. Returns the file's schema.
    """
    expected = schema_of(reference)
    actual = infer_schema(path)
    problems = expected.differences(actual)
    if problems:
        raise InvalidData(
            f"{path} does not match {_name(reference)}: {'; '.join(problems)}", code="schema_mismatch"
        )
    return actual


def _name(reference: str | Path | Schema) -> str:
    return "the schema" if isinstance(reference, Schema) else str(reference)
