"""Streaming JSON (array of records) and JSON Lines readers, with types inferred over the whole file.

pyarrow's JSON reader only knows JSON Lines and freezes types after its first block, so records are
parsed here one at a time (bounded memory: one chunk of text plus one batch of records), each chunk's
nesting depth counted before the decoder sees it (``hokusai.bounds``). A first pass
infers one type per key over every record (null < bool; int < float; anything mixed, nested or too big
becomes a string holding the JSON text), a second pass builds record batches of that one schema.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import pyarrow as pa

from hokusai.bounds import DEFAULT_JSON_MAX_DEPTH, JsonDepth, JsonTooDeep, check_json_depth
from hokusai.data.formats import DataFormat, fail

CHUNK_CHARS = 1 << 20
MAX_DEPTH = DEFAULT_JSON_MAX_DEPTH  # the C decoder recurses per level: depth is counted before it runs
_INT64 = (-(2**63), 2**63 - 1)
_ARROW = {
    "null": pa.null(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
}
_WS = " \t\r\n"


class _Record(dict):
    """A parsed object that remembers a repeated key (the stdlib keeps the last one silently)."""

    duplicate: str | None = None


def _pairs(pairs: list[tuple[str, Any]]) -> _Record:
    record = _Record(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                record.duplicate = key
                break
            seen.add(key)
    return record


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs)


class _Source:
    """The file as UTF-8 text (gunzipped when needed; a BOM is skipped), with the raw byte position."""

    def __init__(self, path: Path, fmt: DataFormat) -> None:
        self.raw = open(path, "rb")  # noqa: SIM115 - closed in close()
        inner: IO[bytes] = (
            cast(IO[bytes], gzip.GzipFile(fileobj=self.raw)) if fmt.gzip else cast(IO[bytes], self.raw)
        )
        self.text = io.TextIOWrapper(inner, encoding="utf-8-sig")

    def position(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        self.text.close()
        self.raw.close()


def _records(path: Path, fmt: DataFormat, source: _Source) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = _jsonl_records if fmt.kind == "jsonl" else _array_records
    try:
        yield from reader(path, fmt, source.text)
    except UnicodeDecodeError:
        raise fail(path, "invalid UTF-8 (JSON must be UTF-8 text)", fmt.name) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise fail(path, f"truncated or corrupt gzip data ({exc})", fmt.name) from None


def iter_records(path: Path, fmt: DataFormat) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, record)`` for every record; malformed input raises ``InvalidInput`` naming the line."""
    source = _Source(path, fmt)
    try:
        yield from _records(path, fmt, source)
    finally:
        source.close()


def _check_record(path: Path, fmt: DataFormat, value: Any, line: int, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        found = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number"
        )
        raise fail(path, f"line {line}: {what} must be a JSON object, found {found}", fmt.name)
    if duplicate := getattr(value, "duplicate", None):
        raise fail(path, f"line {line}: key {duplicate!r} appears twice in a record", fmt.name)
    return value


def _too_deep(path: Path, fmt: DataFormat, line: int) -> Exception:
    return fail(path, f"line {line}: nested deeper than {MAX_DEPTH} levels of arrays and objects", fmt.name)


def _jsonl_records(path: Path, fmt: DataFormat, stream: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, text in enumerate(stream, 1):
        if not text.strip():
            continue
        try:
            check_json_depth(text, MAX_DEPTH)
        except JsonTooDeep:
            raise _too_deep(path, fmt, line) from None
        try:
            value = _DECODER.decode(text)
        except json.JSONDecodeError as exc:
            raise fail(path, f"line {line}: invalid JSON: {exc.msg} (column {exc.colno})", fmt.name) from None
        yield line, _check_record(path, fmt, value, line, "each line")


class _ArrayScanner:
    """Walks ``[ {...}, {...} ]`` through a sliding text buffer, one record at a time."""

    def __init__(self, path: Path, fmt: DataFormat, stream: IO[str]) -> None:
        self.path, self.fmt, self.stream = path, fmt, stream
        self.buffer = ""
        self.pos = 0
        self.lines_before = 0  # newlines in text already dropped from the buffer
        self.eof = False
        self.depth = JsonDepth(MAX_DEPTH)  # every chunk is counted before the decoder sees it

    def line(self, pos: int | None = None) -> int:
        return self.lines_before + self.buffer.count("\n", 0, self.pos if pos is None else pos) + 1

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(CHUNK_CHARS)
        if not chunk:
            self.eof = True
            return False
        try:
            self.depth.feed(chunk)
        except JsonTooDeep:
            raise _too_deep(self.path, self.fmt, self.lines_before + self.buffer.count("\n") + 1) from None
        if self.pos > CHUNK_CHARS:
            self.lines_before += self.buffer.count("\n", 0, self.pos)
            self.buffer = self.buffer[self.pos :]
            self.pos = 0
        self.buffer += chunk
        return True

    def peek(self) -> str:
        """The next non-blank character ('' at the end), leaving ``pos`` on it."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more():
                return ""

    def error(self, what: str) -> Exception:
        return fail(self.path, f"line {self.line()}: {what}", self.fmt.name)

    def value(self) -> Any:
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue
                where = self.line(exc.pos)
                raise fail(self.path, f"line {where}: invalid JSON: {exc.msg}", self.fmt.name) from None
            if end == len(self.buffer) and not self.eof and self._more():
                continue  # a number may go on in the next chunk
            self.pos = end
            return value


def _array_records(path: Path, fmt: DataFormat, stream: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    scan = _ArrayScanner(path, fmt, stream)
    if scan.peek() != "[":
        raise scan.error("expected an array of records starting with '['")
    scan.pos += 1
    if scan.peek() == "]":
        scan.pos += 1
    else:
        while True:
            line = scan.line()
            yield line, _check_record(path, fmt, scan.value(), line, "each array element")
            following = scan.peek()
            if following == "]":
                scan.pos += 1
                break
            if following != ",":
                raise scan.error(
                    "expected ',' or ']' after a record" if following else "the array is not closed"
                )
            scan.pos += 1
            scan.peek()
    if scan.peek():
        raise scan.error("unexpected content after the closing ']'")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if _INT64[0] <= value <= _INT64[1] else "string"
    if isinstance(value, float):
        return "float"
    return "string"


def _merge(old: str, new: str) -> str:
    if old == new or new == "null":
        return old
    if old == "null":
        return new
    if {old, new} == {"int", "float"}:
        return "float"
    return "string"


def infer_schema(path: Path, fmt: DataFormat) -> pa.Schema:
    """One Arrow type per key over every record (first pass); keys in first-seen order."""
    kinds: dict[str, str] = {}
    for _, record in iter_records(path, fmt):
        for key, value in record.items():
            kinds[key] = _merge(kinds.get(key, "null"), _kind(value))
    return pa.schema([(key, _ARROW[kind]) for key, kind in kinds.items()])


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def to_batch(records: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    """A record batch of ``schema`` from parsed records (missing keys are nulls)."""
    arrays = []
    for field in schema:
        values = [record.get(field.name) for record in records]
        if pa.types.is_string(field.type):
            values = [_as_text(value) for value in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def iter_batches(
    path: Path, fmt: DataFormat, schema: pa.Schema, batch_rows: int, progress: Callable[[int], None]
) -> Iterator[pa.RecordBatch]:
    """Record batches of ``schema`` (second pass); ``progress`` gets the raw bytes read after each."""
    source = _Source(path, fmt)
    try:
        pending: list[dict[str, Any]] = []
        for _, record in _records(path, fmt, source):
            pending.append(record)
            if len(pending) >= batch_rows:
                yield to_batch(pending, schema)
                progress(source.position())
                pending = []
        if pending:
            yield to_batch(pending, schema)
    finally:
        source.close()
