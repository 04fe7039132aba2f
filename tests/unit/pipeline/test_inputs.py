"""Reading the inputs: verdicts and the inferred schema are cached by content, never by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hokusai.errors import InvalidData
from hokusai.pipeline.inputs import load_inputs
from hokusai.pipeline.spec import Contribution, PipelineSpec

WALLET = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"


def _write(path: Path, rows: int, seed: int, **extra: object) -> Path:
    rng = np.random.default_rng(seed)
    pd.DataFrame({"x": rng.normal(size=rows), "y": rng.integers(0, 2, rows), **extra}).to_csv(
        path, index=False
    )
    return path


def _spec(tmp_path: Path, train: Path) -> PipelineSpec:
    return PipelineSpec(
        baseline=str(tmp_path / "model"), train=train, benchmark=_write(tmp_path / "bench.csv", 50, 1),
        contributions=(Contribution(path=_write(tmp_path / "c.csv", 30, 2), wallet=WALLET),), target="y",
    )  # fmt: skip


def test_the_inferred_schema_is_cached_by_the_base_files_content(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    spec = _spec(tmp_path, _write(tmp_path / "base.csv", 100, 0))
    first = load_inputs(spec, cache)
    assert len(list(cache.glob("schema-*.json"))) == 1
    again = load_inputs(spec, cache)  # from the cache: the same contract and the same verdicts
    assert again.contributions[0].manifest == first.contributions[0].manifest
    # other bytes under the same name are another key: the base now has a column the others lack
    _write(tmp_path / "base.csv", 100, 0, z=1.0)
    with pytest.raises(InvalidData, match="fails validation") as failed:
        load_inputs(spec, cache)
    assert "z" in str(failed.value)
    assert len(list(cache.glob("schema-*.json"))) == 2
