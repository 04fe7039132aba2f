"""Integration of contributions: schema match, duplicates dropped and counted, leakage refused."""

from __future__ import annotations

import pandas as pd
import pytest

from hokusai.errors import InvalidData, InvalidInput
from hokusai.evaluation.integrate import integrate

BASE = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "b"], "y": [0, 1, 0, 1]})
BENCH = pd.DataFrame({"x": [10.0, 20.0], "c": ["a", "b"], "y": [1, 0]})


def test_rows_already_in_the_base_data_or_the_benchmark_are_dropped_and_counted() -> None:
    contribution = pd.DataFrame(
        {"x": [1.0, 10.0, 7.0, 7.0, 8.0], "c": ["a", "a", "b", "b", "a"], "y": [0, 1, 1, 1, 0]}
    )
    result = integrate(BASE, BENCH, [contribution], "y")
    rows = result.rows[0]
    assert (rows.submitted, rows.used) == (5, 3)
    assert (rows.duplicate_of_base, rows.duplicate_of_benchmark) == (1, 1)
    assert result.contributions[0]["x"].tolist() == [7.0, 7.0, 8.0]  # repeats inside one file are data


def test_a_row_with_another_label_is_not_a_duplicate() -> None:
    flipped = BASE.assign(y=1 - BASE["y"])
    assert integrate(BASE, BENCH, [flipped], "y").rows[0].used == 4


def test_rows_of_an_earlier_contribution_are_dropped_from_a_later_one() -> None:
    first = pd.DataFrame({"x": [7.0], "c": ["a"], "y": [1]})
    second = pd.DataFrame({"x": [7.0, 9.0], "c": ["a", "a"], "y": [1, 0]})
    result = integrate(BASE, BENCH, [first, second], "y")
    assert [r.used for r in result.rows] == [1, 1]
    assert result.rows[1].duplicate_of_earlier_contribution == 1


def test_unlabeled_contributed_rows_are_dropped_and_counted() -> None:
    contribution = pd.DataFrame({"x": [7.0, 8.0], "c": ["a", "b"], "y": [1.0, None]})
    rows = integrate(BASE, BENCH, [contribution], "y").rows[0]
    assert (rows.used, rows.missing_label) == (1, 1)


def test_ints_read_as_floats_are_aligned_to_the_base_dtypes() -> None:
    contribution = pd.DataFrame({"c": ["a"], "y": [1.0], "x": [1.0]})
    result = integrate(BASE, BENCH, [contribution], "y")
    assert list(result.contributions[0].columns) == ["x", "c", "y"]
    assert result.rows[0].duplicate_of_base == 0  # label 1 differs from base row (1.0, a, 0)


def test_benchmark_rows_in_the_base_data_are_leakage() -> None:
    leaky = pd.concat([BENCH, BASE.iloc[[2]]])
    with pytest.raises(
        InvalidData, match="1 rows of the base training data are also in the benchmark"
    ) as caught:
        integrate(BASE, leaky, [BASE], "y")
    assert caught.value.code == "benchmark_leakage"


def test_a_contribution_with_other_columns_fails_validation() -> None:
    other = pd.DataFrame({"x": [1.0], "colour": ["red"], "y": [1]})
    with pytest.raises(
        InvalidData, match=r"missing columns \['c'\], unexpected columns \['colour'\]"
    ) as caught:
        integrate(BASE, BENCH, [other], "y", names=["contribution 1 (other.csv)"])
    assert caught.value.code == "schema_mismatch"
    assert "contribution 1 (other.csv)" in caught.value.message


def test_a_contribution_whose_values_do_not_fit_the_base_types_fails_validation() -> None:
    wrong = pd.DataFrame({"x": ["seven"], "c": ["a"], "y": [1]})
    with pytest.raises(InvalidData, match=r"column 'x'.*float64"):
        integrate(BASE, BENCH, [wrong], "y")


def test_a_benchmark_without_the_target_column_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="benchmark has no target column 'y'") as caught:
        integrate(BASE, BENCH.drop(columns="y"), [BASE], "y")
    assert caught.value.code == "missing_target"
