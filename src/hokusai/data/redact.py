"""``redact``: a copy of a data file with PII replaced, in the same format, written atomically.

What is replaced is what validation reports (same detectors, same column plans). A match becomes
``[REDACTED:<kind>]`` (``method="mask"``) or ``[HMAC:<kind>:<16 base32>]`` (``method="hash"``: HMAC-SHA256
with ``key``, so equal values get equal pseudonyms and can still be joined). A column whose name
suggests PII loses every value. CSV/TSV keep every other cell's exact text (output is UTF-8, ``\\n``
line ends); JSON keeps its structure; in Parquet a typed (non-text) value that must go becomes null.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hokusai.data import _json
from hokusai.data.formats import DataFormat, detect_format, kind_from_name
from hokusai.data.pii import ColumnPlan, Method, card_rows_in_ints, column_plan, hinted_rows, redact_text
from hokusai.data.readers import open_batches
from hokusai.data.values import is_text, plain
from hokusai.errors import InvalidInput

Counts = dict[str, dict[str, int]]


@contextlib.contextmanager
def _atomic_output(out: Path, gz: bool) -> Iterator[IO[bytes]]:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            if gz:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
                    yield cast(IO[bytes], packed)
            else:
                yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plans(path: Path) -> dict[str, ColumnPlan]:
    with open_batches(path) as stream:
        plans = {f.name: column_plan(f.name, f.type) for f in stream.schema}
    return {name: plan for name, plan in plans.items() if plan is not None}


def _check_target(path: Path, out: Path, fmt: DataFormat) -> None:
    kind, gz = kind_from_name(out)
    if (kind, gz) != (fmt.kind, fmt.gzip):
        raise InvalidInput(f"{out}: the redacted copy keeps the input's format; name it *.{fmt.name}")
    if out.exists() and out.resolve() == path.resolve():
        raise InvalidInput(f"{out}: the redacted copy must not overwrite its input")


def redact(
    path: str | Path, out: str | Path, *, method: Method = "mask", key: bytes | str | None = None
) -> Counts:
    """Write ``out``: ``path`` with PII replaced. Returns ``{column: {kind: values replaced}}``."""
    if method not in ("mask", "hash"):
        raise InvalidInput(f"redaction method {method!r}: expected 'mask' or 'hash'")
    secret = key.encode("utf-8") if isinstance(key, str) else key
    if method == "hash" and not secret:
        raise InvalidInput("hash redaction needs a key (set HOKUSAI_REDACT_KEY)")
    path, out = Path(path), Path(out)
    fmt = detect_format(path)
    _check_target(path, out, fmt)
    plans = _plans(path)
    counts: Counts = defaultdict(lambda: defaultdict(int))
    with _atomic_output(out, fmt.gzip) as sink:
        if fmt.kind in ("csv", "tsv"):
            _redact_csv(path, fmt, plans, method, secret, sink, counts)
        elif fmt.kind == "parquet":
            _redact_parquet(path, plans, method, secret, sink, counts)
        else:
            _redact_json(path, fmt, plans, method, secret, sink, counts)
    return {
        column: {kind: n for kind, n in kinds.items() if n}
        for column, kinds in counts.items()
        if any(kinds.values())
    }


def _redact_values(
    values: list[Any], plan: ColumnPlan, method: Method, key: bytes | None, counts: dict[str, int]
) -> list[Any]:
    result = []
    for value in values:
        if isinstance(value, str) and value:
            value, kinds = redact_text(value, plan, method, key)
            for kind in set(kinds):
                counts[kind] += 1
        result.append(value)
    return result


def _redact_csv(
    path: Path,
    fmt: DataFormat,
    plans: dict[str, ColumnPlan],
    method: Method,
    key: bytes | None,
    sink: IO[bytes],
    counts: Counts,
) -> None:
    text = io.TextIOWrapper(sink, encoding="utf-8", newline="")
    writer = csv.writer(text, delimiter=fmt.delimiter or ",", lineterminator="\n")
    with open_batches(path, raw_text=True) as stream:
        names = stream.schema.names
        writer.writerow(names)
        for batch in stream:
            columns = []
            for index, name in enumerate(names):
                values = batch.column(index).to_pylist()
                plan = plans.get(name)
                columns.append(_redact_values(values, plan, method, key, counts[name]) if plan else values)
            writer.writerows(zip(*columns, strict=True))
    text.flush()
    text.detach()


def _redact_json_value(
    value: Any, plan: ColumnPlan, method: Method, key: bytes | None, kinds: list[str]
) -> Any:
    if isinstance(value, str):
        value, found = redact_text(value, plan, method, key)
        kinds.extend(found)
        return value
    if isinstance(value, dict):
        return {k: _redact_json_value(v, plan, method, key, kinds) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json_value(v, plan, method, key, kinds) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        replaced, found = redact_text(str(value), ColumnPlan("int", None, False), method, key)
        if found:
            kinds.extend(found)
            return replaced
    return value


def _redact_record(
    record: dict[str, Any], plans: dict[str, ColumnPlan], method: Method, key: bytes | None, counts: Counts
) -> dict[str, Any]:
    result = {}
    for name, value in record.items():
        plan = plans.get(name)
        if plan is not None and value is not None:
            kinds: list[str] = []
            if plan.hint and value != "":
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                value, kinds = redact_text(text, ColumnPlan("text", plan.hint, False), method, key)
            else:
                value = _redact_json_value(value, plan, method, key, kinds)
            for kind in set(kinds):
                counts[name][kind] += 1
        result[name] = value
    return result


def _redact_json(
    path: Path,
    fmt: DataFormat,
    plans: dict[str, ColumnPlan],
    method: Method,
    key: bytes | None,
    sink: IO[bytes],
    counts: Counts,
) -> None:
    text = io.TextIOWrapper(sink, encoding="utf-8", newline="\n")
    if fmt.kind == "json":
        text.write("[")
    for index, (_, record) in enumerate(_json.iter_records(path, fmt)):
        line = json.dumps(_redact_record(record, plans, method, key, counts), ensure_ascii=False)
        if fmt.kind == "json":
            text.write(("," if index else "") + "\n" + line)
        else:
            text.write(line + "\n")
    if fmt.kind == "json":
        text.write("\n]\n")
    text.flush()
    text.detach()


def _redact_column(
    column: pa.Array, plan: ColumnPlan, method: Method, key: bytes | None, counts: dict[str, int]
) -> pa.Array:
    if is_text(column.type):
        values = _redact_values(plain(column).to_pylist(), plan, method, key, counts)
        return pa.array(values, pa.string())
    rows = set(hinted_rows(column).tolist()) if plan.hint else set()
    if plan.hint and rows:
        counts[plan.hint] += len(rows)
    if plan.role == "int":
        cards = set(card_rows_in_ints(column).tolist()) - rows
        counts["card"] += len(cards)
        rows |= cards
    if not rows:
        return column
    drop = pa.array([i in rows for i in range(len(column))])
    return pc.if_else(drop, pa.scalar(None, column.type), column)


def _redact_parquet(
    path: Path,
    plans: dict[str, ColumnPlan],
    method: Method,
    key: bytes | None,
    sink: IO[bytes],
    counts: Counts,
) -> None:
    with open_batches(path) as stream:
        fields = [
            pa.field(f.name, pa.string()) if is_text(f.type) and f.name in plans else f for f in stream.schema
        ]
        schema = pa.schema(fields)
        with pq.ParquetWriter(sink, schema) as writer:
            for batch in stream:
                arrays = [
                    _redact_column(batch.column(i), plans[name], method, key, counts[name])
                    if name in plans
                    else batch.column(i)
                    for i, name in enumerate(batch.schema.names)
                ]
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
