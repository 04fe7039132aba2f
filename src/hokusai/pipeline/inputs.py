"""The one step that reads files: every data file goes through ``hokusai.data`` (same reader, same
validation, same hash as ``hokusai data manifest`` and the upload endpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hokusai.errors import InvalidData, NotFound
from hokusai.pipeline.spec import PipelineSpec


@dataclass(frozen=True)
class DataInput:
    """One data set in memory with its hash and manifest (``source_path`` reduced to the file name)."""

    name: str
    frame: pd.DataFrame
    data_hash: str
    manifest: dict[str, Any]


@dataclass(frozen=True)
class Inputs:
    train: DataInput
    benchmark: DataInput
    contributions: list[DataInput]


def _findings(report: Any, limit: int = 3) -> str:
    return "; ".join(str(f) for f in list(report.findings)[:limit])


def load_inputs(spec: PipelineSpec) -> Inputs:
    """Read, validate and hash the base data, the benchmark and each contribution."""
    from hokusai import data

    named = [("base training data", spec.train), ("benchmark", spec.benchmark)]
    named += [(f"contribution {i} ({c.path.name})", c.path) for i, c in enumerate(spec.contributions, 1)]
    for name, path in named:
        if not Path(path).is_file():
            raise NotFound(f"{name}: no such file {path}")
    schema = data.infer_schema(spec.train)
    loaded = []
    for name, path in named:
        report = data.validate([path], schema=schema)
        if not report.valid:
            raise InvalidData(
                f"{name} fails validation: {_findings(report)}", details=[str(f) for f in report.findings]
            )
        manifest = {**data.data_manifest_for(path), "source_path": Path(path).name}
        loaded.append(DataInput(name, data.read_frame(path), data.data_hash(path), manifest))
    return Inputs(train=loaded[0], benchmark=loaded[1], contributions=loaded[2:])
