"""Contributor valuation through ``run_pipeline``: farming with near-copies, copycats, many players.

Embedded MLflow (the backend store directly, no server): these runs are about the weights.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from hokusai.attestation.verify import verify_attestation
from hokusai.cli import main
from hokusai.cli import pipeline as pipeline_cli
from hokusai.config import DEFAULT_VALUATION_BUDGET, Settings
from hokusai.errors import InvalidInput
from hokusai.pipeline import run_pipeline
from hokusai.pipeline.spec import Contribution, PipelineSpec, ProgressEvent
from hokusai.tracking.models import save_model_dir
from tests.integration.pipeline.conftest import FEATURES, TARGET, baseline_estimator, valued_bps

WALLETS = [f"0x{i:040x}" for i in range(1, 40)]


@dataclass(frozen=True)
class Market:
    """Base (300 rows), benchmark (800) and a pool of real rows nobody has seen (2900)."""

    root: Path
    baseline_dir: Path
    train: Path
    benchmark: Path
    base: pd.DataFrame
    pool: pd.DataFrame

    def write(self, name: str, frame: pd.DataFrame) -> Path:
        path = self.root / f"{name}.csv"
        path.write_bytes(frame.to_csv(index=False).encode())
        return path

    def honest(self, count: int, rows: int) -> list[Path]:
        return [self.write(f"honest{i}", self.pool.iloc[i * rows : (i + 1) * rows]) for i in range(count)]

    def near_copies(self, name: str, source: pd.DataFrame, rows: int, seed: int = 0) -> Path:
        """Rows drawn from ``source`` with small noise on every feature: correct labels, nothing new."""
        rng = np.random.default_rng(seed)
        copies = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
        spread = self.base[FEATURES].std(ddof=0).to_numpy()
        copies[FEATURES] = (copies[FEATURES] + rng.normal(0, 0.01, (rows, len(FEATURES))) * spread).round(6)
        return self.write(name, copies)

    def spec(self, paths: list[Path], **options: object) -> PipelineSpec:
        contributions = tuple(Contribution(p, w) for p, w in zip(paths, WALLETS, strict=False))
        values: dict[str, object] = {
            "baseline": str(self.baseline_dir),
            "train": self.train,
            "benchmark": self.benchmark,
            "contributions": contributions,
            "target": TARGET,
            "out_dir": self.root / "out",
            "register": False,
        }
        return PipelineSpec(**(values | options))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def market_data(tmp_path_factory: pytest.TempPathFactory) -> Market:
    root = tmp_path_factory.mktemp("market")
    x, y = make_classification(
        n_samples=4000,
        n_features=10,
        n_informative=6,
        n_redundant=2,
        class_sep=0.6,
        flip_y=0.03,
        random_state=7,
    )
    frame = pd.DataFrame(x, columns=FEATURES).round(6)
    frame[TARGET] = y
    base, benchmark, pool = frame.iloc[:300], frame.iloc[300:1100], frame.iloc[1100:]
    baseline = baseline_estimator().fit(base[FEATURES], base[TARGET])
    save_model_dir(baseline, root / "baseline_model")
    market = Market(root, root / "baseline_model", root / "base.csv", root / "benchmark.csv", base, pool)
    market.write("base", base)
    market.write("benchmark", benchmark)
    return market


@pytest.fixture
def market(market_data: Market, tmp_path: Path) -> Market:
    return replace(market_data, root=tmp_path)


def test_a_farmer_of_near_copies_of_the_base_data_gets_at_most_two_percent(
    market: Market, embedded_settings: Settings
) -> None:
    farmer = market.near_copies("farmer", market.base, 3000)
    result = run_pipeline(market.spec([*market.honest(12, 50), farmer]), embedded_settings)
    weights = valued_bps(result.report)  # what the valuation gives (signed only when the run is accepted)
    assert sum(weights) == 10_000
    assert weights[-1] <= 200
    assert result.report["contributions"][-1]["rows"]["near_duplicate_of_base"] == 3000
    assert verify_attestation(result.attestation, report=result.report).valid  # weights check included


def test_a_copycat_of_another_contributor_gets_nothing(market: Market, embedded_settings: Settings) -> None:
    original, other = market.honest(2, 200)
    copycat = market.near_copies("copycat", pd.read_csv(original), 200, seed=1)
    result = run_pipeline(market.spec([original, copycat, other]), embedded_settings)
    weights = valued_bps(result.report)  # what the valuation gives (signed only when the run is accepted)
    assert weights[1] == 0
    assert result.report["contributions"][1]["rows"]["near_duplicate_of_earlier_contribution"] == 200
    assert weights[0] > 0


def test_twenty_contributors_are_valued_within_the_budget_with_a_standard_error_each(
    market: Market, embedded_settings: Settings
) -> None:
    events: list[ProgressEvent] = []
    result = run_pipeline(market.spec(market.honest(20, 30), preview=True), embedded_settings, events.append)
    valuation = result.report["valuation"]
    assert valuation["method"] == "kernel_shapley"
    assert valuation["retrains"] <= DEFAULT_VALUATION_BUDGET == valuation["budget"]
    assert all(c.value_se_pp is not None and c.value_se_pp > 0 for c in result.contributors)
    progress = [e for e in events if e.state == "progress"]
    assert [e.done for e in progress] == list(range(1, valuation["retrains"] + 1))
    assert {e.planned for e in progress} == {DEFAULT_VALUATION_BUDGET}
    assert progress[0].step == "weigh contributors"


def test_the_run_budget_overrides_the_platform_budget(market: Market, embedded_settings: Settings) -> None:
    spec = market.spec(market.honest(8, 30), preview=True, valuation_budget=20)
    valuation = run_pipeline(spec, embedded_settings).report["valuation"]
    assert valuation["budget"] == 20 and valuation["retrains"] <= 20


def test_a_budget_too_small_for_the_noise_seeds_is_refused_before_anything_is_trained(
    market: Market, embedded_settings: Settings
) -> None:
    spec = market.spec(market.honest(2, 30), preview=True, valuation_budget=3)
    with pytest.raises(InvalidInput, match="at least 5") as caught:
        run_pipeline(spec, embedded_settings)
    assert caught.value.code == "valuation_budget_too_small"


def test_the_cli_table_shows_each_value_with_its_error_the_near_copies_and_the_weight(
    market: Market, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOKUSAI_DATA_DIR", str(market.root / "state"))
    monkeypatch.setattr(pipeline_cli.out, "width", 200)  # one table row per line
    paths = [*market.honest(7, 40), market.near_copies("farmer", market.base, 100)]
    args = ["preview", "--baseline", str(market.baseline_dir), "--train", str(market.train)]
    args += ["--benchmark", str(market.benchmark), "--target", TARGET, "--valuation-budget", "30"]
    for path in paths:
        args += ["--contribution", str(path)]
    with pytest.raises(SystemExit):
        main([*args, "--out", str(market.root / "out")])
    out = capsys.readouterr().out
    assert "value (pp)" in out and "near-copies" in out
    assert out.count(" ± ") == 7  # every player: value ± standard error; the farmer has no rows left
    assert "gp_shapley" in out and "of 30 retrains" in out
