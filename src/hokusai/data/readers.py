"""Streaming readers: every supported format as pyarrow record batches of bounded size.

CSV/TSV go through pyarrow's streaming CSV reader (4 MiB blocks, types inferred from the first block),
Parquet through ``ParquetFile.iter_batches``, JSON/JSONL through ``hokusai.data._json``. Memory stays
bounded by one block/batch whatever the file size. A compressed file (Parquet, gzip) is budgeted before
it inflates: a Parquet footer that declares more uncompressed data than ``inflate_budget`` is refused
before any page is read, and the decoded batches of every compressed file are counted against the same
budget as they stream (a footer can lie, dictionary pages decode larger than they are stored). Every
failure is one ``InvalidInput`` line naming the file, the format, what failed and the row or line where
known.

pyarrow freezes CSV column types after the first block; a later value that does not fit (``1.5`` in a
column of integers, text after empty cells) raises ``TypeDrift``. ``scan`` (used by ``read_frame``,
validation and the manifest) catches it and reads the file again with that column widened
(null → int → float → string), so callers always see one schema per file.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from hokusai.bounds import InflateBudget
from hokusai.data import _json
from hokusai.data.formats import DataFormat, detect_format, fail
from hokusai.errors import InvalidInput

DEFAULT_BATCH_ROWS = 65_536
CSV_BLOCK_BYTES = 4 << 20
INFLATE_RATIO = 200  # decoded bytes a compressed file (Parquet, gzip) may give per byte of file
INFLATE_FLOOR_BYTES = 256 << 20  # ... and at least this many, however small the file
_MAX_REREADS = 64

ProgressFn = Callable[[int, int], None]
"""Called after each batch with (bytes of the file read so far, file size in bytes)."""

T = TypeVar("T")

_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to (.+?): invalid value '(.*)'", re.S)
_BAD_UTF8 = re.compile(r"In CSV column #(\d+): CSV conversion error to string: invalid UTF8 data")
INT_TEXT = re.compile(r"^[+-]?\d+$")
FLOAT_TEXT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:inf|nan)$", re.I)
BOOL_TEXT = re.compile(r"^(?:true|false)$", re.I)


class TypeDrift(InvalidInput):
    """A CSV value after the first block does not fit the type inferred from that block."""

    code = "type_drift"

    def __init__(self, message: str, *, column: str, widened: pa.DataType) -> None:
        super().__init__(message)
        self.column = column
        self.widened = widened


class BatchStream:
    """An opened data file: its format, its Arrow schema, and (once) its record batches."""

    def __init__(
        self,
        path: Path,
        fmt: DataFormat,
        schema: pa.Schema,
        batches: Iterator[pa.RecordBatch],
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self.path, self.format, self.schema = path, fmt, schema
        self._batches = batches
        self._close = close

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self._batches

    def close(self) -> None:
        self._close()

    def __enter__(self) -> BatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_batches(
    path: str | Path,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    columns: Sequence[str] | None = None,
    column_types: dict[str, pa.DataType] | None = None,
    raw_text: bool = False,
    progress: ProgressFn | None = None,
) -> BatchStream:
    """Open ``path`` for streaming; the header/schema is read (and checked) now, the rows lazily.

    ``column_types`` forces CSV column types; ``raw_text`` reads every CSV column as the exact text
    (no nulls, no conversion) — what redaction rewrites.
    """
    path = Path(path)
    fmt = detect_format(path)
    size = path.stat().st_size
    report = (lambda done: progress(min(done, size), size)) if progress else (lambda done: None)
    if fmt.kind in ("csv", "tsv"):
        stream = _open_csv(path, fmt, batch_rows, column_types or {}, raw_text, report)
    elif fmt.kind == "parquet":
        stream = _open_parquet(path, fmt, batch_rows, report, size)
    else:
        schema = _json.infer_schema(path, fmt)
        _check_names(path, fmt, schema.names)
        stream = BatchStream(path, fmt, schema, _json.iter_batches(path, fmt, schema, batch_rows, report))
    if fmt.gzip:  # Parquet budgets itself (it can count before it expands)
        stream = _budgeted(stream, inflate_budget(path, fmt, size))
    return _select(stream, columns) if columns is not None else stream


def inflate_budget(path: Path, fmt: DataFormat, size: int) -> InflateBudget:
    """How many bytes of decoded data a compressed file (Parquet, gzip) may give: ``INFLATE_RATIO``
    times its size, at least ``INFLATE_FLOOR_BYTES``."""
    limit = max(INFLATE_FLOOR_BYTES, INFLATE_RATIO * size)
    return InflateBudget(limit, f"{path}: {fmt.name}: the data")


def _budgeted(stream: BatchStream, budget: InflateBudget) -> BatchStream:
    """The stream's batches, their decoded size counted against ``budget`` (refused past it)."""

    def counted() -> Iterator[pa.RecordBatch]:
        for batch in stream:
            budget.take(batch.nbytes)
            yield batch

    return BatchStream(stream.path, stream.format, stream.schema, counted(), stream.close)


def iter_batches(
    path: str | Path,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    columns: Sequence[str] | None = None,
    column_types: dict[str, pa.DataType] | None = None,
    progress: ProgressFn | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of at most ``batch_rows`` rows, streamed (bounded memory).

    For CSV, a value later in the file that does not fit the type inferred from the first rows raises
    ``TypeDrift``; pass ``column_types`` for such a column, or use ``scan``/``read_frame``.
    """
    with open_batches(
        path, batch_rows=batch_rows, columns=columns, column_types=column_types, progress=progress
    ) as stream:
        yield from stream


def scan(
    path: str | Path,
    consume: Callable[[BatchStream], T],
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    columns: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
) -> T:
    """``consume(stream)`` over the whole file; on CSV type drift, again from the start, column widened.

    ``consume`` must start from scratch each time it is called (it may be called more than once).
    """
    types: dict[str, pa.DataType] = {}
    for _ in range(_MAX_REREADS):
        stream = open_batches(path, batch_rows=batch_rows, column_types=types, progress=progress)
        try:
            return consume(_select(stream, columns) if columns is not None else stream)
        except TypeDrift as drift:
            if types.get(drift.column) == drift.widened:
                raise
            types[drift.column] = drift.widened
        finally:
            stream.close()
    raise fail(path, "column types keep changing while reading; give a schema", "csv")


def read_table(path: str | Path, *, columns: Sequence[str] | None = None) -> pa.Table:
    """The whole file as one Arrow table (same readers, same errors as the streaming path)."""
    return scan(
        path, lambda stream: pa.Table.from_batches(list(stream), schema=stream.schema), columns=columns
    )


def read_frame(path: str | Path, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The whole file as a pandas DataFrame (same readers, same errors as the streaming path)."""
    return read_table(path, columns=columns).to_pandas()


def _select(stream: BatchStream, columns: Sequence[str]) -> BatchStream:
    missing = [name for name in columns if name not in stream.schema.names]
    if missing:
        stream.close()
        raise fail(
            stream.path,
            f"no column {missing[0]!r} (columns: {', '.join(stream.schema.names)})",
            stream.format.name,
        )
    chosen = list(columns)
    return BatchStream(
        stream.path,
        stream.format,
        pa.schema([stream.schema.field(name) for name in chosen]),
        (batch.select(chosen) for batch in stream),
        stream.close,
    )


def _check_names(path: Path, fmt: DataFormat, names: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    for index, name in enumerate(names, 1):
        if not name.strip():
            raise fail(path, f"column {index} has no name in the header", fmt.name)
        if name in seen:
            raise fail(
                path,
                f"column {name!r} appears more than once (columns {seen[name]} and {index}); "
                "column names must be unique",
                fmt.name,
            )
        seen[name] = index


def _slices(batch: pa.RecordBatch, batch_rows: int) -> Iterator[pa.RecordBatch]:
    if batch.num_rows <= batch_rows:
        yield batch
        return
    for offset in range(0, batch.num_rows, batch_rows):
        yield batch.slice(offset, batch_rows)


def _arrow_encoding(encoding: str | None) -> str:
    return "utf8" if encoding in (None, "utf-8", "utf-8-sig") else encoding


def _open_csv(
    path: Path,
    fmt: DataFormat,
    batch_rows: int,
    column_types: dict[str, pa.DataType],
    raw_text: bool,
    report: Callable[[int], None],
) -> BatchStream:
    invalid: list[Any] = []

    def on_invalid_row(row: Any) -> str:
        invalid.append(row)
        return "error"

    def open_reader(types: dict[str, pa.DataType]) -> tuple[pa.NativeFile, pa_csv.CSVStreamingReader]:
        raw = pa.OSFile(str(path))
        source = pa.CompressedInputStream(raw, "gzip") if fmt.gzip else raw
        try:
            reader = pa_csv.open_csv(
                source,
                read_options=pa_csv.ReadOptions(
                    block_size=CSV_BLOCK_BYTES, encoding=_arrow_encoding(fmt.encoding)
                ),
                parse_options=pa_csv.ParseOptions(
                    delimiter=fmt.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid_row
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types=types,
                    strings_can_be_null=not raw_text,
                    quoted_strings_can_be_null=not raw_text,
                ),
            )
        except (pa.ArrowException, OSError) as exc:
            raw.close()
            raise _csv_error(path, fmt, exc, invalid, 0, None, types) from None
        return raw, reader

    raw, reader = open_reader(column_types)
    try:
        _check_names(path, fmt, reader.schema.names)
        binary = [f.name for f in reader.schema if pa.types.is_binary(f.type)]
        if binary:  # pyarrow infers binary for text that is not UTF-8
            line = _locate_bad_utf8(path, fmt)
            where = f" at line {line}" if line else ""
            raise fail(
                path, f"invalid UTF-8 in column {binary[0]!r}{where}; re-save the file as UTF-8", fmt.name
            )
    except InvalidInput:
        raw.close()
        raise
    if raw_text:
        raw.close()
        raw, reader = open_reader({name: pa.string() for name in reader.schema.names})

    def batches() -> Iterator[pa.RecordBatch]:
        rows = 0
        try:
            for batch in reader:
                yield from _slices(batch, batch_rows)
                rows += batch.num_rows
                report(raw.tell())
        except (pa.ArrowException, OSError) as exc:
            raise _csv_error(path, fmt, exc, invalid, rows, reader.schema, column_types) from None
        finally:
            raw.close()

    return BatchStream(path, fmt, reader.schema, batches(), raw.close)


def _csv_error(
    path: Path,
    fmt: DataFormat,
    exc: Exception,
    invalid: list[Any],
    rows: int,
    schema: pa.Schema | None,
    types: dict[str, pa.DataType],
) -> InvalidInput:
    message = str(exc)
    if invalid:
        bad = invalid[0]
        located = _locate_ragged_row(path, fmt)
        if located is not None:
            row, line, got, expected = located
            return fail(
                path, f"row {row} (line {line}) has {got} fields, the header has {expected}", fmt.name
            )
        return fail(
            path,
            f"a row{_after(rows)} has {bad.actual_columns} fields, the header has {bad.expected_columns}",
            fmt.name,
        )
    if match := _BAD_UTF8.search(message):
        name = _column_name(schema, int(match.group(1)))
        bad_line = _locate_bad_utf8(path, fmt)
        where = f" at line {bad_line}" if bad_line else _after(rows)
        return fail(path, f"invalid UTF-8 in column {name!r}{where}; re-save the file as UTF-8", fmt.name)
    if (match := _CONVERSION.search(message)) and schema is not None:
        index, value = int(match.group(1)), match.group(3)
        name = _column_name(schema, index)
        current = schema.field(index).type
        return TypeDrift(
            f"{path}: {fmt.name}: column {name!r} was read as {current} from the first rows, but a value "
            f"after row {rows} is not {current}; read the file with scan()/read_frame() or give the "
            "column's type",
            column=name,
            widened=widen(current, value),
        )
    if "compressed" in message.lower() or "gzip" in message.lower() or "zlib" in message.lower():
        return fail(path, f"truncated or corrupt gzip data{_after(rows)}", fmt.name)
    return fail(path, f"cannot read{_after(rows)}: {message.splitlines()[0]}", fmt.name)


def _after(rows: int) -> str:
    return f" after row {rows}" if rows else " in the first rows"


def _column_name(schema: pa.Schema | None, index: int) -> str:
    if schema is None or index >= len(schema):
        return f"#{index + 1}"
    return schema.names[index]


def widen(current: pa.DataType, value: str) -> pa.DataType:
    """The next type up that can hold ``value`` (null → int → float → string; bool only from null)."""
    value = value.strip()
    if pa.types.is_null(current):
        if INT_TEXT.match(value):
            return pa.int64()
        if FLOAT_TEXT.match(value):
            return pa.float64()
        if BOOL_TEXT.match(value):
            return pa.bool_()
    elif pa.types.is_integer(current) and FLOAT_TEXT.match(value):
        return pa.float64()
    return pa.string()


def _locate_ragged_row(path: Path, fmt: DataFormat) -> tuple[int, int, int, int] | None:
    """(row, line, fields, header fields) of the first row whose field count differs from the header's."""
    opener = gzip.open if fmt.gzip else open
    with opener(path, "rt", encoding=fmt.encoding or "utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=fmt.delimiter or ",")
        header = next(reader, None)
        if header is None:
            return None
        row = 0
        for fields in reader:
            if not fields:
                continue
            row += 1
            if len(fields) != len(header):
                return row, reader.line_num, len(fields), len(header)
    return None


def _locate_bad_utf8(path: Path, fmt: DataFormat) -> int | None:
    """Line number of the first line that is not UTF-8."""
    opener = gzip.open if fmt.gzip else open
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _open_parquet(
    path: Path, fmt: DataFormat, batch_rows: int, report: Callable[[int], None], size: int
) -> BatchStream:
    """Parquet under its inflate budget: the footer's declared sizes are checked first; text and binary
    columns are read dictionary-encoded, so each batch's decoded size is counted (value lengths times
    their uses) before it is expanded: a small dictionary page used a million times is refused unread."""
    budget = inflate_budget(path, fmt, size)
    try:
        schema = pq.read_schema(str(path))
        _check_names(path, fmt, schema.names)
        texts = [f.name for f in schema if _is_text(f.type)]
        parquet = pq.ParquetFile(str(path), read_dictionary=texts)
    except (pa.ArrowException, OSError) as exc:
        raise fail(path, f"truncated or corrupt Parquet file: {str(exc).splitlines()[0]}", fmt.name) from None
    _check_declared_sizes(parquet.metadata, budget)
    total = max(parquet.metadata.num_rows, 1)

    def batches() -> Iterator[pa.RecordBatch]:
        rows = 0
        try:
            for batch in parquet.iter_batches(batch_size=batch_rows):
                yield _expand(batch, schema, texts, budget)
                rows += batch.num_rows
                report(size * rows // total)
        except (pa.ArrowException, OSError) as exc:
            raise fail(
                path, f"corrupt Parquet data{_after(rows)}: {str(exc).splitlines()[0]}", fmt.name
            ) from None
        finally:
            parquet.close()

    return BatchStream(path, fmt, schema, batches(), parquet.close)


def _is_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_string(kind)
        or (pa.types.is_large_binary(kind))
    )


def _expand(
    batch: pa.RecordBatch, schema: pa.Schema, texts: list[str], budget: InflateBudget
) -> pa.RecordBatch:
    """The batch in ``schema``'s types, its decoded size taken from ``budget`` before any text column
    read dictionary-encoded is expanded."""
    decoded = 0
    for name in batch.schema.names:
        column = batch.column(name)
        if name in texts and pa.types.is_dictionary(column.type):
            lengths = pc.binary_length(column.dictionary)
            used = pc.sum(pc.take(lengths, column.indices)).as_py() or 0
            decoded += used + 8 * len(column)
        else:
            decoded += column.nbytes
    budget.take(decoded)
    if not texts:
        return batch
    arrays = [batch.column(f.name).cast(f.type) if f.name in texts else batch.column(f.name) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


_VALUE_BYTES = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8, "BYTE_ARRAY": 4}


def _check_declared_sizes(metadata: pq.FileMetaData, budget: InflateBudget) -> None:
    """Refuse a Parquet file whose footer declares more data than ``budget`` before a page of it is read:
    per column chunk, the larger of its uncompressed size and its value count times the value's width
    (run-length and dictionary encodings store a million equal values in a few bytes; Arrow decodes
    every one of them, and a list column puts them all in one row)."""
    declared = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            column = row_group.column(index)
            width = _VALUE_BYTES.get(column.physical_type) or max(
                metadata.schema.column(index).length or 1, 1
            )
            declared += max(column.total_uncompressed_size, column.num_values * width)
            if declared > budget.limit:
                raise budget.refuse(f"row group {group}")
