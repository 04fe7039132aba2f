"""Redaction: PII replaced by a mask or a keyed hash, the format and every other value kept."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hokusai.data import readers, redact, validate
from hokusai.errors import InvalidInput

Writer = Callable[[str, str | bytes], Path]
CSV = (
    "id,email,note,price,card\n"
    '1,jane@example.org,"call +14155552671 or mail jane@example.org",1.50,4111111111111111\n'
    "2,,NA,2.00,12\n"
    '3,bob@example.org,"plain, with comma",NA,\n'
)
MASKED = (
    "id,email,note,price,card\n"
    "1,[REDACTED:email],call [REDACTED:phone] or mail [REDACTED:email],1.50,[REDACTED:card]\n"
    "2,,NA,2.00,12\n"
    '3,[REDACTED:email],"plain, with comma",NA,\n'
)


def test_masking_a_csv_keeps_every_other_cell_exactly(write: Writer, tmp_path: Path) -> None:
    out = tmp_path / "clean.csv"
    counts = redact(write("d.csv", CSV), out)
    assert out.read_text() == MASKED
    assert counts == {"email": {"email": 2}, "note": {"phone": 1, "email": 1}, "card": {"card": 1}}


def test_the_redacted_copy_validates_without_pii(write: Writer, tmp_path: Path) -> None:
    out = tmp_path / "clean.csv"
    redact(write("d.csv", CSV), out)
    assert [f.rule for f in validate(out).findings if f.rule.startswith("pii")] == []


def test_keyed_hash_gives_equal_pseudonyms_for_equal_values_and_depends_on_the_key(
    write: Writer, tmp_path: Path
) -> None:
    source = write("d.csv", CSV)
    redact(source, tmp_path / "a.csv", method="hash", key="k1")
    redact(source, tmp_path / "b.csv", method="hash", key="k2")
    first = (tmp_path / "a.csv").read_text().splitlines()[1].split(",")
    assert first[1].startswith("[HMAC:email:") and first[1] in first[2]
    assert "jane" not in (tmp_path / "a.csv").read_text()
    assert (tmp_path / "a.csv").read_text() != (tmp_path / "b.csv").read_text()


def test_hash_redaction_without_a_key_is_refused(write: Writer, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="needs a key"):
        redact(write("d.csv", CSV), tmp_path / "o.csv", method="hash")


def test_gzipped_csv_stays_gzipped(write: Writer, tmp_path: Path) -> None:
    out = tmp_path / "clean.csv.gz"
    redact(write("d.csv.gz", gzip.compress(CSV.encode())), out)
    assert gzip.decompress(out.read_bytes()).decode() == MASKED


def test_json_keeps_its_structure(write: Writer, tmp_path: Path) -> None:
    records = [
        {"user": {"mail": "a@example.org", "ips": ["10.0.0.1"]}, "n": 4111111111111111},
        {"user": None, "n": 1},
    ]
    out = tmp_path / "clean.json"
    redact(write("d.json", json.dumps(records)), out)
    assert json.loads(out.read_text()) == [
        {"user": {"mail": "[REDACTED:email]", "ips": ["[REDACTED:ipv4]"]}, "n": "[REDACTED:card]"},
        {"user": None, "n": 1},
    ]


def test_jsonl_stays_one_record_per_line(write: Writer, tmp_path: Path) -> None:
    out = tmp_path / "clean.jsonl"
    redact(write("d.jsonl", '{"note": "ssn 123-45-6789"}\n{"note": "fine"}\n'), out)
    assert out.read_text() == '{"note": "ssn [REDACTED:ssn]"}\n{"note": "fine"}\n'


def test_parquet_keeps_its_schema_and_nulls_typed_pii(tmp_path: Path) -> None:
    source, out = tmp_path / "d.parquet", tmp_path / "clean.parquet"
    table = pa.table({"note": ["x 123-45-6789", "ok"], "card": [4111111111111111, 5], "n": [1.5, 2.5]})
    pq.write_table(table, source)
    redact(source, out)
    result = pq.read_table(out)
    assert result.schema == table.schema
    assert result.to_pylist() == [
        {"note": "x [REDACTED:ssn]", "card": None, "n": 1.5},
        {"note": "ok", "card": 5, "n": 2.5},
    ]


def test_the_copy_must_keep_the_input_format(write: Writer, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"keeps the input's format; name it \*\.csv"):
        redact(write("d.csv", CSV), tmp_path / "clean.json")


def test_a_failed_redaction_leaves_no_file_behind(
    write: Writer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 256)  # the bad row comes after rows were written
    source = write("in/ragged.csv", "a,b\n" + "1,x@example.org\n" * 100 + "3\n")
    out = tmp_path / "out" / "clean.csv"
    out.parent.mkdir()
    with pytest.raises(InvalidInput, match="row 101"):
        redact(source, out)
    assert list(out.parent.iterdir()) == []


def test_validate_with_redact_writes_the_copy_and_passes(
    cli: Callable, write: Writer, tmp_path: Path
) -> None:
    out = tmp_path / "clean.csv"
    result = cli("validate", write("d.csv", CSV), "--redact", out, "--json")
    assert result.code == 0, result.err
    assert out.read_text() == MASKED
    redacted = result.json()["redacted"]
    replaced = {"email": {"email": 2}, "note": {"phone": 1, "email": 1}, "card": {"card": 1}}
    assert list(redacted.values()) == [{"out": str(out), "method": "mask", "replaced": replaced}]


def test_validate_redact_hash_reads_the_key_from_the_environment(
    cli: Callable, write: Writer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOKUSAI_REDACT_KEY", raising=False)
    source, out = write("d.csv", CSV), tmp_path / "clean.csv"
    missing = cli("validate", source, "--redact", out, "--redact-method", "hash")
    assert (missing.code, missing.err_lines) == (
        2,
        ["error: --redact-method hash needs a key: set HOKUSAI_REDACT_KEY"],
    )
    monkeypatch.setenv("HOKUSAI_REDACT_KEY", "team-secret")
    assert cli("validate", source, "--redact", out, "--redact-method", "hash").code == 0
    assert "[HMAC:email:" in out.read_text()


def test_several_files_are_redacted_into_a_directory(cli: Callable, write: Writer, tmp_path: Path) -> None:
    a, b = write("a.csv", CSV), write("b.csv", CSV)
    result = cli("validate", a, b, "--redact", tmp_path / "clean")
    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / "clean").iterdir()) == ["a.csv", "b.csv"]
