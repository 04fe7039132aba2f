"""Near-copies: same label and categories, every numeric feature within the tolerance (base std units)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hokusai.evaluation.integrate import integrate
from hokusai.evaluation.neardup import NearDuplicateRule, near_copies

RNG = np.random.default_rng(0)
BASE = pd.DataFrame(
    {
        "a": RNG.normal(0, 1, 200),
        "b": RNG.normal(0, 100, 200),  # a wide feature: its tolerance is 100 times wider
        "c": RNG.choice(["x", "y"], 200),
        "y": RNG.integers(0, 2, 200),
    }
)
RULE = NearDuplicateRule.from_base(BASE, ["a", "b", "c"], "y", tolerance=0.05)


def _copy(rows: list[int], **offsets: float) -> pd.DataFrame:
    frame = BASE.iloc[rows].reset_index(drop=True).copy()
    for column, offset in offsets.items():
        frame[column] = frame[column] + offset * RULE.scale[RULE.numeric.index(column)]
    return frame


def test_a_row_within_the_tolerance_on_every_feature_is_a_near_copy() -> None:
    assert near_copies(RULE, BASE, _copy([3, 4], a=0.04, b=-0.04)).tolist() == [True, True]


def test_a_row_beyond_the_tolerance_on_one_feature_is_not() -> None:
    assert near_copies(RULE, BASE, _copy([3], b=0.2)).tolist() == [False]


def test_the_tolerance_is_measured_in_the_base_data_standard_deviation() -> None:
    frame = _copy([5])
    frame["b"] += 2.0  # 2 units of a feature whose spread is ~100: well within 0.05 std
    frame["a"] += 0.01
    assert near_copies(RULE, BASE, frame).tolist() == [True]


def test_a_row_with_another_label_is_not_a_near_copy() -> None:
    assert near_copies(RULE, BASE, _copy([6]).assign(y=lambda f: 1 - f["y"])).tolist() == [False]


def test_a_row_with_another_category_is_not_a_near_copy() -> None:
    other = _copy([7]).assign(c=lambda f: f["c"].map({"x": "y", "y": "x"}))
    assert near_copies(RULE, BASE, other).tolist() == [False]


def test_a_missing_value_matches_only_a_missing_value() -> None:
    base = BASE.copy()
    base.loc[0, "a"] = np.nan
    rule = NearDuplicateRule.from_base(base, ["a", "b", "c"], "y", tolerance=0.05)
    missing_too = base.iloc[[0]].assign(b=lambda f: f["b"] + 1.0)
    filled = base.iloc[[0]].assign(a=0.0)
    assert near_copies(rule, base, missing_too).tolist() == [True]
    assert near_copies(rule, base, filled).tolist() == [False]


def test_indexing_the_reference_in_chunks_finds_the_same_copies() -> None:
    queries = pd.concat([_copy(list(range(0, 200, 7)), a=0.03), _copy([1, 2], a=0.5)], ignore_index=True)
    whole = near_copies(RULE, BASE, queries)
    assert whole.sum() == len(range(0, 200, 7))
    assert near_copies(RULE, BASE, queries, chunk_rows=5).tolist() == whole.tolist()


def test_fresh_rows_with_several_numeric_features_are_not_near_copies() -> None:
    columns = [f"f{i}" for i in range(8)]
    base, fresh = (
        pd.DataFrame(RNG.normal(0, 1, (n, 8)), columns=columns).assign(y=RNG.integers(0, 2, n))
        for n in (2000, 500)
    )
    rule = NearDuplicateRule.from_base(base, columns, "y", tolerance=0.05)
    assert not near_copies(rule, base, fresh).any()


def test_integration_drops_and_counts_near_copies_of_base_benchmark_and_earlier_rows() -> None:
    base, bench = BASE.iloc[:150], BASE.iloc[150:]
    first = pd.concat([_copy([1, 2], a=0.02), _copy([160], b=0.03), _copy([10], a=3.0)], ignore_index=True)
    second = pd.concat([first.iloc[[3]].assign(a=lambda f: f["a"] + 0.01), _copy([20], a=-3.0)])
    result = integrate(base, bench, [first, second], "y")
    one, two = result.rows
    assert (one.near_duplicate_of_base, one.near_duplicate_of_benchmark, one.used) == (2, 1, 1)
    assert (two.near_duplicate_of_earlier_contribution, two.used) == (1, 1)
    assert [len(c) for c in result.contributions] == [1, 1]
    assert result.near_duplicates is not None and result.near_duplicates.tolerance == 0.05


def test_an_exact_copy_is_counted_as_an_exact_duplicate_not_a_near_one() -> None:
    rows = integrate(BASE.iloc[:150], BASE.iloc[150:], [BASE.iloc[[1]]], "y").rows[0]
    assert (rows.duplicate_of_base, rows.near_duplicate_of_base) == (1, 0)


def test_near_copies_inside_one_contribution_are_kept() -> None:
    fresh = _copy([10], a=3.0)
    contribution = pd.concat([fresh, fresh.assign(a=lambda f: f["a"] + 0.001)], ignore_index=True)
    assert integrate(BASE.iloc[:150], BASE.iloc[150:], [contribution], "y").rows[0].used == 2


def test_without_a_tolerance_near_copies_are_kept() -> None:
    rows = integrate(BASE, BASE.iloc[:0], [_copy([1], a=0.01)], "y", near_tolerance=None).rows[0]
    assert (rows.used, rows.near_duplicate_of_base) == (1, 0)


@pytest.mark.parametrize("tolerance", [0.0, 0.05])
def test_the_rule_states_its_tolerance_for_the_report(tolerance: float) -> None:
    rule = NearDuplicateRule.from_base(BASE, ["a", "b", "c"], "y", tolerance=tolerance)
    assert rule.describe()["tolerance"] == tolerance
    assert rule.describe()["equal"] == ["y", "c"]


def _brute_force(rule: NearDuplicateRule, reference: pd.DataFrame, queries: pd.DataFrame) -> list[bool]:
    """Every pair compared: same label, every numeric feature within the tolerance (scaled)."""
    columns = list(rule.numeric)
    ref = reference[columns].to_numpy() / rule.scale
    ask = queries[columns].to_numpy() / rule.scale
    close = (np.abs(ask[:, None, :] - ref[None, :, :]).max(axis=2) <= rule.tolerance) & (
        queries["y"].to_numpy()[:, None] == reference["y"].to_numpy()[None, :]
    )
    return close.any(axis=1).tolist()


def _many_features(discrete: bool) -> tuple[NearDuplicateRule, pd.DataFrame, pd.DataFrame]:
    """12 features (so the first index sees only some of them); queries are base rows moved by up to
    twice the tolerance on a few features: some stay near-copies, some do not."""
    rng = np.random.default_rng(3)
    columns = [f"f{i}" for i in range(12)]
    values = rng.integers(0, 3, (600, 12)).astype(float) if discrete else rng.normal(0, 1, (600, 12))
    base = pd.DataFrame(values, columns=columns).assign(y=rng.integers(0, 2, 600))
    rule = NearDuplicateRule.from_base(base, columns, "y", tolerance=0.05)
    queries = base.sample(300, random_state=1).reset_index(drop=True)
    for column in rng.choice(columns, 4, replace=False):
        queries[column] += rng.uniform(-0.1, 0.1, len(queries)) * rule.scale[rule.numeric.index(column)]
    return rule, base, queries


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("pair_limit", [0, 1 << 22])
def test_the_probe_index_finds_exactly_what_comparing_every_pair_finds(
    discrete: bool, pair_limit: int
) -> None:
    rule, base, queries = _many_features(discrete)
    assert len(rule.probe) == 5  # 12 numeric features: the first index is built on 5 of them
    expected = _brute_force(rule, base, queries)
    assert 0 < sum(expected) < len(expected)  # both kinds of answer are asked
    assert near_copies(rule, base, queries, pair_limit=pair_limit, chunk_rows=128).tolist() == expected


def test_the_probe_prefers_features_that_separate_rows() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(0, 1, (500, 8)), columns=[f"f{i}" for i in range(8)])
    frame["f1"] = frame["f1"].round()  # few distinct values
    frame["f6"] = 1.0  # constant
    rule = NearDuplicateRule.from_base(frame.assign(y=0), list(frame.columns), "y", tolerance=0.05)
    assert [rule.numeric[i] for i in rule.probe] == ["f0", "f2", "f3", "f4", "f5"]
