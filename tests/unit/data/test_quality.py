"""Quality: missing values, duplicates (within a file and against base data), label balance, constants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hokusai.data import QualityThresholds, Schema, validate
from hokusai.data.values import DistinctCounter, value_hashes

Writer = Callable[[str, str | bytes], Path]


def _quality(report) -> dict[tuple[str | None, str], tuple[int, list[int], str]]:
    return {
        (f.column, f.rule): (f.count, f.rows, f.severity)
        for f in report.findings
        if f.rule.startswith(("quality.", "label.", "against."))
    }


def _rows(n: int, fmt: Callable[[int], str]) -> str:
    return "".join(fmt(i) for i in range(n))


def test_a_column_missing_more_than_the_threshold_is_an_error(write: Writer) -> None:
    path = write("d.csv", "id,x\n" + _rows(10, lambda i: f"{i},{i if i < 4 else ''}\n"))
    assert _quality(validate(path))[("x", "quality.missing")] == (6, [5, 6, 7, 8, 9], "error")


def test_missing_values_under_the_threshold_are_not_reported(write: Writer) -> None:
    path = write("d.csv", "id,x\n" + _rows(10, lambda i: f"{i},{i if i < 6 else ''}\n"))
    assert ("x", "quality.missing") not in _quality(validate(path))


def test_thresholds_come_from_overrides_then_the_schema_then_the_defaults(write: Writer) -> None:
    path = write("d.csv", "id,x\n" + _rows(10, lambda i: f"{i},{i if i < 8 else ''}\n"))
    schema = Schema.model_validate(
        {"columns": {"id": {"type": "int"}}, "quality": {"max_missing_ratio": 0.1}}
    )
    assert ("x", "quality.missing") not in _quality(validate(path))
    assert ("x", "quality.missing") in _quality(validate(path, schema=schema))
    assert ("x", "quality.missing") not in _quality(
        validate(path, schema=schema, thresholds={"max_missing_ratio": 0.3})
    )
    assert validate(path, thresholds=QualityThresholds(max_missing_ratio=0.05)).valid is False


def test_exact_duplicate_rows_are_counted_with_the_later_rows(write: Writer) -> None:
    path = write("d.csv", "a,b\n1,x\n2,y\n1,x\n3,z\n1,x\n2,y\n")
    assert _quality(validate(path))[(None, "quality.duplicates")] == (3, [3, 5, 6], "error")


def test_duplicates_under_the_threshold_are_a_warning(write: Writer) -> None:
    path = write("d.csv", "a\n" + _rows(20, lambda i: f"{i}\n") + "0\n")
    report = validate(path)
    assert _quality(report)[(None, "quality.duplicates")] == (1, [21], "warning")
    assert report.valid


def test_rows_already_in_the_base_data_are_counted_across_formats(write: Writer, tmp_path: Path) -> None:
    base = tmp_path / "base.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.5], "y": ["a", "b", "c"]}), base)
    contribution = write("new.csv", "y,x\nb,2\nq,9\nc,3.5\nz,1\n")
    report = validate(contribution, against=base)
    assert _quality(report)[(None, "quality.base_duplicates")] == (2, [1, 3], "error")


def test_a_contribution_lacking_a_base_column_is_an_error(write: Writer) -> None:
    base = write("base.csv", "x,y\n1,a\n2,b\n")
    report = validate(write("new.csv", "x,z\n3,q\n4,r\n"), against=base)
    found = _quality(report)
    assert found[("y", "against.missing_column")][2] == "error"
    assert found[("z", "against.extra_column")][2] == "warning"
    assert (None, "quality.base_duplicates") not in found


def test_a_column_of_another_kind_than_in_the_base_is_an_error(write: Writer) -> None:
    base = write("base.csv", "x,y\n1,a\n2,b\n")
    report = validate(write("new.csv", "x,y\nlow,c\nhigh,d\n"), against=base)
    assert _quality(report)[("x", "against.type")][2] == "error"


def test_a_rare_label_class_is_an_error_below_the_minimum_share(write: Writer) -> None:
    path = write("d.csv", "x,label\n" + _rows(200, lambda i: f"{i},{'yes' if i == 0 else 'no'}\n"))
    assert _quality(validate(path, label="label"))[("label", "label.imbalance")] == (1, [], "error")
    assert validate(path, label="label", thresholds={"min_class_ratio": 0.001}).valid


def test_a_balanced_label_passes(write: Writer) -> None:
    path = write("d.csv", "x,label\n" + _rows(100, lambda i: f"{i},{i % 3}\n"))
    assert validate(path, label="label").valid


def test_a_continuous_label_gets_no_balance_check(write: Writer) -> None:
    path = write("d.csv", "x,price\n" + _rows(200, lambda i: f"{i},{i * 1.01 if i else 99999}\n"))
    assert validate(path, label="price").valid


def test_rows_without_a_label_are_an_error(write: Writer) -> None:
    path = write("d.csv", "x,label\n1,a\n2,\n3,b\n4,a\n")
    assert _quality(validate(path, label="label"))[("label", "label.missing")] == (1, [2], "error")


def test_a_label_column_that_is_not_there_is_an_error(write: Writer) -> None:
    path = write("d.csv", "x,y\n1,a\n2,b\n")
    assert _quality(validate(path, label="target"))[("target", "label.absent")][2] == "error"


def test_a_constant_column_is_a_warning_unless_configured_as_an_error(write: Writer) -> None:
    path = write("d.csv", "x,same\n" + _rows(10, lambda i: f"{i},k\n"))
    assert _quality(validate(path))[("same", "quality.constant")] == (10, [], "warning")
    strict = validate(path, thresholds={"fail_on_constant_columns": True})
    assert (strict.valid, _quality(strict)[("same", "quality.constant")][2]) == (False, "error")


def test_distinct_counts_are_exact_under_the_cap_and_estimated_over_it() -> None:
    exact, capped = DistinctCounter(cap=100_000), DistinctCounter(cap=2_000)
    for start in range(0, 60_000, 10_000):
        chunk = value_hashes(pa.array(np.arange(start, start + 10_000) % 50_000))
        exact.add(chunk)
        capped.add(chunk)
    assert (exact.count(), exact.exact) == (50_000, True)
    assert capped.exact is False
    assert abs(capped.count() - 50_000) / 50_000 < 0.1


def test_equal_values_hash_alike_across_int_float_and_formats() -> None:
    ints, floats = value_hashes(pa.array([1, 2, None], pa.int32())), value_hashes(pa.array([1.0, 2.0, None]))
    assert ints.tolist() == floats.tolist()
    assert value_hashes(pa.array(["1"])).tolist() != ints[:1].tolist()
