"""The one step that reads files: every data file goes through ``hokusai.data`` (same reader, same
validation, same hash as ``hokusai data validate|manifest`` and the upload endpoint).

The base data's schema (inferred, label = the target, no extra columns) is the contract: the
benchmark and every contribution are validated against it (schema rules, PII, quality). A
contribution with a header and no rows is not an error: it is empty (``no_contribution_rows``).
A contribution that fails validation does not stop the run: it is excluded (no rows, its reason kept for
the report, the attestation and the run page) and the others are evaluated; the run is refused only
when every contribution fails, or when the base data or the benchmark does.

A validation verdict depends only on the file's bytes, the schema, the label and the tool version,
so it is cached under exactly that key (``<data dir>/cache/validation``): evaluating the next
contribution against the same base data and benchmark does not validate those again. The schema
inferred from the base data is cached the same way (by the base file's hash, the label, the version).
The platform's upload endpoint keeps its verdict there too (``remember_verdict``): a worker that shares
the API's data directory (the local runner) does not validate a contribution's bytes a second time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from hokusai import data
from hokusai._version import __version__
from hokusai.errors import InvalidData, InvalidInput, NotFound
from hokusai.files import atomic_write_json
from hokusai.hashing import canonical_hash
from hokusai.pipeline.spec import PipelineSpec

EMPTY_FILE_RULE = "rows.none"
UNREADABLE_RULE = "file.unreadable"
"""A file the reader cannot parse (``hokusai data validate`` exits 2 on it): a contribution's is excluded."""


@dataclass(frozen=True)
class DataInput:
    """One data set in memory with its hash and manifest (``source_path`` reduced to the file name)."""

    name: str
    frame: pd.DataFrame
    data_hash: str
    manifest: dict[str, Any]
    excluded: dict[str, Any] | None = None
    """Why a contribution was left out (``code``, ``message``, ``findings``); None when it is used."""


@dataclass(frozen=True)
class Inputs:
    train: DataInput
    benchmark: DataInput
    contributions: list[DataInput]


def _cached(cache: Path | None, name: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()``'s JSON, kept in ``cache/name`` when there is a cache (the name carries the key)."""
    cached = cache / name if cache is not None else None
    if cached is not None and cached.is_file():
        return json.loads(cached.read_text())
    value = compute()
    if cached is not None:
        atomic_write_json(cached, value)
    return value


def verdict_cache(data_dir: Path) -> Path:
    """Where validation verdicts are kept under a data directory."""
    return data_dir / "cache" / "validation"


def _verdict_name(digest: str, schema: Any, target: str) -> str:
    key = canonical_hash(
        {"data_hash": digest, "schema": schema.to_dict(), "label": target, "tool": __version__}
    )
    return f"{key}.json"


def _verdict(report: Any) -> dict[str, Any]:
    """What is kept of a one-file ``ValidationReport``: its errors and the file's data manifest."""
    return {"errors": [f.to_dict() for f in report.errors], "manifest": report.files[0].data_manifest}


def remember_verdict(cache: Path, report: Any, schema: Any, target: str) -> None:
    """Keep ``report`` (one file validated against ``schema`` with label ``target``, as the upload endpoint
    does) under the key ``load_inputs`` looks up, so a run does not validate those bytes again."""
    verdict = _verdict(report)
    atomic_write_json(cache / _verdict_name(verdict["manifest"]["data_hash"], schema, target), verdict)


def _validated(path: Path, digest: str, schema: Any, target: str, cache: Path | None) -> dict[str, Any]:
    """``{"errors": [finding dicts], "manifest": data_manifest}`` of one file (SHA-256 ``digest``),
    cached by content."""

    def validate() -> dict[str, Any]:
        try:
            report = data.validate(path, schema=schema, label=target)
        except InvalidInput as exc:  # a file the reader cannot parse: a finding like any other
            unreadable: dict[str, Any] = {
                "file": str(path), "column": None, "rule": UNREADABLE_RULE, "count": 1, "rows": [],
                "severity": "error", "message": exc.message,
            }  # fmt: skip
            return {
                "errors": [unreadable],
                "manifest": {"data_hash": digest, "row_count": 0, "column_count": 0},
            }
        return _verdict(report)

    return _cached(cache, _verdict_name(digest, schema, target), validate)


def _inferred_schema(path: Path, digest: str, target: str, cache: Path | None) -> data.Schema:
    """The base data's schema (label = the target, no extra columns), cached by content like a verdict:
    inferring it reads the file's first row group, which for a large base is most of the file."""
    key = canonical_hash({"inferred_from": digest, "label": target, "tool": __version__})

    def infer() -> dict[str, Any]:
        schema = data.infer_schema(path, label=target).model_copy(update={"allow_extra_columns": False})
        return schema.to_dict()

    return data.Schema.model_validate(_cached(cache, f"schema-{key}.json", infer))


def _failure(name: str, errors: list[dict[str, Any]]) -> InvalidData:
    shown = "; ".join(f"{f['column'] or 'file'}: {f['rule']} ({f['message']})" for f in errors[:3])
    more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
    return InvalidData(f"{name} fails validation: {shown}{more}", code="validation_failed", details=errors)


def _load(
    name: str, path: Path, digest: str, schema: Any, target: str, cache: Path | None, *, contribution: bool
) -> DataInput:
    """One file, validated; a contribution that fails is returned excluded (no rows, never read), any other
    file that fails stops the run."""
    verdict = _validated(path, digest, schema, target, cache)
    errors = [f for f in verdict["errors"] if not (contribution and f["rule"] == EMPTY_FILE_RULE)]
    manifest = {**verdict["manifest"], "source_path": path.name}
    if errors:
        failure = _failure(name, errors)
        if not contribution:
            raise failure
        excluded = {"code": failure.code, "message": failure.message, "findings": errors}
        return DataInput(name, pd.DataFrame(), manifest["data_hash"], manifest, excluded)
    return DataInput(name, data.read_frame(path), manifest["data_hash"], manifest)


def load_inputs(spec: PipelineSpec, cache: Path | None = None) -> Inputs:
    """Read, validate and hash the base data, the benchmark and each contribution (verdicts cached
    in ``cache`` when given) against the benchmark spec's schema (a spec-less local run infers the base
    data's); a benchmark other than the spec's pinned bytes is refused."""
    named = [("base training data", spec.train), ("benchmark", spec.benchmark)]
    named += [(f"contribution {i} ({c.path.name})", c.path) for i, c in enumerate(spec.contributions, 1)]
    for name, path in named:
        if not path.is_file():
            raise NotFound(f"{name}: no such file {path}")
    digests = {path: data.data_hash(path) for _, path in named}  # each file read once for its hash
    if spec.benchmark_spec is not None:  # the model's contract: its schema, its pinned benchmark
        schema = spec.benchmark_spec.contribution_schema
        pinned = spec.benchmark_spec.benchmark_sha256
        if digests[spec.benchmark] != pinned:
            raise InvalidData(
                f"the benchmark file is not the one the benchmark spec pins (sha256 {pinned[:12]}…): "
                "refusing to evaluate on other bytes",
                code="benchmark_mismatch",
            )
    else:  # a local evaluation with no spec: the base data's schema, no extra columns
        schema = _inferred_schema(spec.train, digests[spec.train], spec.target, cache)
    loaded = [
        _load(
            name,
            path,
            digests[path],
            schema,
            spec.target,
            cache,
            contribution=name.startswith("contribution"),
        )
        for name, path in named
    ]
    train, benchmark, contributions = loaded[0], loaded[1], loaded[2:]
    if contributions and all(c.excluded for c in contributions):
        messages = "; ".join(str(c.excluded["message"]) for c in contributions if c.excluded)
        findings = [c.excluded for c in contributions if c.excluded]
        raise InvalidData(f"no contribution remains: {messages}", code="validation_failed", details=findings)
    columns = train.frame.iloc[0:0]  # an excluded contribution: no rows, the base data's columns
    contributions = [replace(c, frame=columns.copy()) if c.excluded else c for c in contributions]
    return Inputs(train=train, benchmark=benchmark, contributions=contributions)
