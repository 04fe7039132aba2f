"""Schema files: inferred from a sample, written and read back, checked row by row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from hokusai.data import Schema, check_compatible, infer_schema, load_schema, validate
from hokusai.errors import InvalidData, InvalidInput

Writer = Callable[[str, str | bytes], Path]
CSV = (
    "id,plan,price,joined,active,target\n"
    + "".join(
        f"{i},{'pro' if i % 3 else 'free'},{i * 1.5},2024-01-{i % 28 + 1:02d},true,{i % 2}\n"
        for i in range(1, 41)
    )
    + "41,,2.0,2024-02-01,false,1\n"
)


def test_infer_schema_finds_types_nullability_categories_and_the_label(write: Writer) -> None:
    schema = infer_schema(write("d.csv", CSV))
    types = {name: spec.type for name, spec in schema.columns.items()}
    assert types == {
        "id": "int", "plan": "category", "price": "float",
        "joined": "datetime", "active": "bool", "target": "int",
    }  # fmt: skip
    assert schema.columns["plan"].allowed == ["free", "pro"]
    assert schema.columns["plan"].nullable is True
    assert schema.columns["id"].nullable is False
    assert schema.label == "target"


def test_infer_schema_looks_only_at_the_sample(write: Writer) -> None:
    schema = infer_schema(write("d.csv", CSV), sample_rows=10)
    assert schema.columns["plan"].nullable is False


@pytest.mark.parametrize("name", ["s.yaml", "s.json"])
def test_schema_round_trips_through_its_file(write: Writer, tmp_path: Path, name: str) -> None:
    schema = infer_schema(write("d.csv", CSV))
    assert load_schema(schema.to_file(tmp_path / name)) == schema


def test_infer_schema_cli_writes_a_yaml_schema(cli: Callable, write: Writer, tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    result = cli("infer-schema", write("d.csv", CSV), "--out", out, "--label", "active")
    assert result.code == 0, result.err
    written = yaml.safe_load(out.read_text())
    assert written["label"] == "active"
    assert written["columns"]["price"]["type"] == "float"


def test_infer_schema_cli_prints_json_only_with_json(cli: Callable, write: Writer) -> None:
    result = cli("infer-schema", write("d.csv", CSV), "--json")
    assert result.json()["columns"]["id"]["type"] == "int"


def test_a_schema_with_an_unknown_type_is_one_line_naming_the_field(write: Writer) -> None:
    path = write("s.yaml", "columns:\n  age: {type: integer}\n")
    with pytest.raises(InvalidInput, match=r"s.yaml: schema: columns.age.type: Input should be 'int', "):
        load_schema(path)


def test_a_schema_whose_label_is_not_a_column_is_refused(write: Writer) -> None:
    with pytest.raises(InvalidInput, match="label 'y' is not one of the columns"):
        load_schema(write("s.yaml", "label: y\ncolumns:\n  x: {type: int}\n"))


def test_a_schema_that_is_not_yaml_is_one_line(write: Writer) -> None:
    with pytest.raises(InvalidInput, match=r"s\.yaml: schema: not valid YAML"):
        load_schema(write("s.yaml", "columns: [unclosed\n"))


def test_contribution_with_ints_where_base_has_floats_is_compatible(write: Writer) -> None:
    base = write("base.csv", "x,y\n1.5,a\n2.5,b\n")
    contribution = write("new.csv", "x,y,extra\n1,c,9\n")
    assert check_compatible(contribution, base).columns["x"].type == "int"


def test_contribution_missing_a_base_column_or_changing_its_kind_is_refused(write: Writer) -> None:
    base = write("base.csv", "x,y\n1.5,a\n2.5,b\n")
    contribution = write("new.csv", "x\nabc\n")
    with pytest.raises(InvalidData, match=r"missing column 'y'; column 'x' is string, expected float"):
        check_compatible(contribution, base)


def _rules(report) -> dict[tuple[str | None, str], tuple[int, list[int]]]:
    return {(f.column, f.rule): (f.count, f.rows) for f in report.findings if f.rule.startswith("schema.")}


def test_schema_violations_are_counted_with_their_rows(write: Writer) -> None:
    schema = Schema.model_validate({
        "columns": {
            "age": {"type": "int", "nullable": False, "min": 0, "max": 120},
            "plan": {"type": "category", "allowed": ["free", "pro"]},
            "joined": {"type": "datetime"},
            "must": {"type": "string"},
        }
    })  # fmt: skip
    data = (
        "age,plan,joined\n30,free,2024-01-01\n-1,gold,yesterday\n,pro,2024-01-03\n"
        "130,free,2024-01-04\nold,pro,x\n"
    )
    report = validate(write("d.csv", data), schema=schema)
    assert _rules(report) == {
        ("must", "schema.required"): (1, []),
        ("age", "schema.nullable"): (1, [3]),
        ("age", "schema.type"): (1, [5]),
        ("age", "schema.range"): (2, [2, 4]),
        ("plan", "schema.allowed"): (1, [2]),
        ("joined", "schema.type"): (2, [2, 5]),
    }
    assert not report.valid


def test_extra_columns_are_refused_only_when_the_schema_says_so(write: Writer) -> None:
    path = write("d.csv", "a,b\n1,2\n3,4\n")
    open_schema = Schema.model_validate({"columns": {"a": {"type": "int"}}})
    closed = Schema.model_validate({"columns": {"a": {"type": "int"}}, "allow_extra_columns": False})
    assert _rules(validate(path, schema=open_schema)) == {}
    assert _rules(validate(path, schema=closed)) == {("b", "schema.extra"): (1, [])}


def test_example_rows_stop_at_five_but_the_count_does_not(write: Writer) -> None:
    schema = Schema.model_validate({"columns": {"n": {"type": "int", "max": 0}}})
    report = validate(write("d.csv", "n\n" + "1\n" * 12 + "0\n"), schema=schema)
    assert _rules(report)[("n", "schema.range")] == (12, [1, 2, 3, 4, 5])
