"""Hostile inputs, built the way an attacker would: deep JSON, decompression bombs, corrupted trees."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def deep_json(levels: int = 100_000) -> bytes:
    """A verify request whose attestation holds ``levels`` nested arrays (2 bytes a level)."""
    return b'{"attestation": {"a": ' + b"[" * levels + b"]" * levels + b"}}"


def _find(node: Any, cls: str) -> dict[str, Any] | None:
    if isinstance(node, dict):
        if node.get("__class__") == cls:
            return node
        items = list(node.values())
    elif isinstance(node, list):
        items = node
    else:
        return None
    for item in items:
        found = _find(item, cls)
        if found is not None:
            return found
    return None


def corrupt_tree(skops_bytes: bytes, field: str, value: Any, cls: str = "Tree", node: int = 0) -> bytes:
    """The skops file with ``field`` of node ``node`` of its first ``cls`` (``Tree``, ``TreePredictor``)
    set to ``value`` (e.g. ``left_child`` = 50,000,000); every other byte unchanged."""
    with zipfile.ZipFile(io.BytesIO(skops_bytes)) as source:
        tree = _find(json.loads(source.read("schema.json")), cls)
        assert tree is not None, f"no {cls} in the file"
        name = tree["content"]["content"]["nodes"]["file"]
        nodes = np.load(io.BytesIO(source.read(name)))
        nodes[field][node] = value
        patched = io.BytesIO()
        np.save(patched, nodes)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
            for member in source.namelist():
                target.writestr(member, patched.getvalue() if member == name else source.read(member))
    return out.getvalue()


def skops_schema_bomb(skops_bytes: bytes, inflated: int = 1 << 30) -> bytes:
    """The skops file with its ``schema.json`` padded with spaces to ``inflated`` bytes (still valid JSON:
    a parser reads it all), deflated to about a thousandth of that."""
    with zipfile.ZipFile(io.BytesIO(skops_bytes)) as source:
        schema = source.read("schema.json")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target:
            for member in source.namelist():
                if member != "schema.json":
                    target.writestr(member, source.read(member))
            with target.open("schema.json", "w", force_zip64=True) as handle:
                handle.write(schema)
                pad, chunk = inflated - len(schema), b" " * (1 << 20)
                while pad > 0:
                    handle.write(chunk[: min(pad, len(chunk))])
                    pad -= len(chunk)
    return out.getvalue()


def model_tarball(directory: Path) -> bytes:
    """An MLflow model directory as the .tar.gz a registration uploads."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(directory), arcname="model")
    return buffer.getvalue()


def parquet_bomb(path: Path, rows: int = 200_000, value_bytes: int = 20_000) -> Path:
    """A zstd Parquet file of a few KB whose one text column decodes to ``rows * value_bytes`` bytes:
    one dictionary value used by every row (the Arrow schema is not stored, so readers expand it)."""
    column = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["x" * value_bytes])
    )
    pq.write_table(pa.table({"text": column}), path, compression="zstd", store_schema=False)
    return path


def parquet_list_bomb(path: Path, row_groups: int = 100, per_row: int = 20_000) -> Path:
    """A zstd Parquet file of about 30 KB whose list column holds ``per_row`` run-length-encoded zeros in
    each of 100 rows per row group: 200 million values (1.6 GB) by default."""
    offsets = pa.array(np.arange(0, 100 * per_row + 1, per_row, dtype=np.int32))
    column = pa.ListArray.from_arrays(offsets, pa.array(np.zeros(100 * per_row, dtype=np.int64)))
    with pq.ParquetWriter(path, pa.schema([("values", column.type)]), compression="zstd") as writer:
        for _ in range(row_groups):
            writer.write_table(pa.table({"values": column}))
    return path


def mlmodel_alias_bomb(levels: int = 30) -> str:
    """An ``MLmodel`` whose ``pickled_model`` is a YAML alias bomb: ``10 ** levels`` items once expanded
    (``str()`` of it never ends), a few KB as written."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    lines.append(f"flavors:\n  sklearn:\n    pickled_model: *a{levels - 1}\n    serialization_format: skops")
    return "\n".join(lines) + "\n"
