"""Each bad input: one clear line on stderr and its exit code (2 unreadable, 1 invalid); no traceback."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

Writer = Callable[[str, str | bytes], Path]
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _parquet_bytes() -> bytes:
    whole = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(1000))}), whole)
    return whole.getvalue()


_GZ = gzip.compress(("a,b\n" + "".join(f"{i},{i * 7919 % 10007}\n" for i in range(100_000))).encode())

# (test id, file name, content, what the one stderr line contains)
UNREADABLE = [
    ("empty-file", "empty.csv", b"", "empty.csv: csv: empty file (0 bytes)"),
    (
        "ragged-row", "ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n",
        "ragged.csv: csv: row 2 (line 3) has 2 fields, the header has 3",
    ),
    (
        "wrong-delimiter", "data.tsv", "a,b,c\n1,2,3\n4,5,6\n",
        "data.tsv: tsv: no tab between columns; the content looks comma-separated (name the file .csv)",
    ),
    (
        "latin1-json", "legacy.jsonl", '{"a": "x"}\n{"a": "Köln"}\n'.encode("latin-1"),
        "legacy.jsonl: jsonl: invalid UTF-8 at line 2 (JSON must be UTF-8 text)",
    ),
    (
        "invalid-utf8", "mixed.csv", b"name,city\nJos\xc3\xa9,K\xf6ln\n",
        "mixed.csv: csv: invalid UTF-8 at line 2: the file mixes UTF-8 with other bytes; re-save it as UTF-8",
    ),
    (
        "json-object", "object.json", '{"a": 1, "b": 2}\n',
        "object.json: json: a JSON object where records were expected; give an array of records",
    ),
    ("broken-json", "broken.json", '[\n  {"a": 1},\n  {"a": 2,,}\n]\n', "json: line 3: invalid JSON"),
    (
        "truncated-parquet", "cut.parquet", _parquet_bytes()[:600],
        "cut.parquet: parquet: truncated or corrupt Parquet file (the footer is missing)",
    ),
    ("zero-byte-gz", "zero.csv.gz", b"", "zero.csv.gz: csv.gz: empty file (0 bytes)"),
    ("gz-of-nothing", "nothing.csv.gz", gzip.compress(b""), "empty file (the gzip stream holds no data)"),
    ("truncated-gz", "cut.csv.gz", _GZ[: len(_GZ) // 2], "cut.csv.gz: csv.gz: truncated or corrupt gzip"),
    (
        "column-named-twice", "dup.csv", "a,b,a\n1,2,3\n",
        "dup.csv: csv: column 'a' appears more than once (columns 1 and 3); column names must be unique",
    ),
    (
        "json-key-twice", "dup.jsonl", '{"a": 1}\n{"a": 1, "a": 2}\n',
        "dup.jsonl: jsonl: line 2: key 'a' appears twice in a record",
    ),
    ("unsupported-extension", "sheet.xlsx", b"PK\x03\x04", "sheet.xlsx: unsupported file type '.xlsx'"),
    ("json-named-csv", "records.csv", '[{"a": 1}, {"a": 2}]', "records.csv: csv: content looks like JSON"),
]  # fmt: skip


def _one_line(result) -> str:
    assert "Traceback" not in result.err
    assert len(result.err_lines) == 1, result.err
    return result.err_lines[0]


@pytest.mark.parametrize(
    ("name", "content", "expected"), [case[1:] for case in UNREADABLE], ids=[case[0] for case in UNREADABLE]
)
def test_unreadable_input_is_exit_2_with_one_clear_line(
    cli: Callable, write: Writer, name: str, content: str | bytes, expected: str
) -> None:
    result = cli("validate", write(name, content))
    assert result.code == 2
    assert result.out == ""
    assert expected in _one_line(result)


def test_header_only_file_is_invalid_data_exit_1(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("header.csv", "a,b,c\n"))
    assert result.code == 1
    assert _one_line(result) == "error: data is invalid: 1 error finding(s): rows.none"
    assert "no data rows" in result.out


def test_ragged_row_deep_in_a_large_file_is_found(cli: Callable, write: Writer) -> None:
    rows = "".join(f"{i},{i}\n" for i in range(200_000))
    result = cli("validate", write("deep.csv", "a,b\n" + rows + "1,2,3\n"))
    assert result.code == 2
    assert _one_line(result).endswith("row 200001 (line 200002) has 3 fields, the header has 2")


def test_latin1_csv_is_read_as_latin1_and_says_so(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("legacy.csv", "city,n\nKöln,1\nMünchen,2\n".encode("latin-1")))
    assert result.code == 0, result.err
    assert "latin-1" in result.out


def test_invalid_utf8_after_the_sniffed_sample_names_column_and_line(cli: Callable, write: Writer) -> None:
    body = "".join(f"{i},plain text\n" for i in range(20_000)).encode()
    result = cli("validate", write("late.csv", b"n,note\n" + body + b"5,bad \xff byte\n"))
    assert result.code == 2
    assert _one_line(result).endswith(
        "late.csv: csv: invalid UTF-8 in column 'note' at line 20002; re-save the file as UTF-8"
    )


def test_label_column_with_one_class_is_exit_1(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("one.csv", "x,label\n1,yes\n2,yes\n3,yes\n"), "--label", "label")
    assert result.code == 1
    assert _one_line(result) == "error: data is invalid: 1 error finding(s): label.one_class in 'label'"


def test_wallet_with_a_wrong_checksum_is_exit_2(cli: Callable, write: Writer) -> None:
    bad = ADDRESS[:-1] + "D"
    result = cli("manifest", write("d.csv", "a\n1\n2\n"), "--wallet", bad)
    assert result.code == 2
    assert "has a wrong EIP-55 checksum" in _one_line(result)


def test_path_that_does_not_exist_is_exit_2(cli: Callable, tmp_path: Path) -> None:
    result = cli("validate", tmp_path / "missing.csv")
    assert result.code == 2
    assert _one_line(result).endswith("missing.csv: no such file")


def test_directory_is_exit_2(cli: Callable, tmp_path: Path) -> None:
    result = cli("validate", tmp_path)
    assert result.code == 2
    assert _one_line(result).endswith("is a directory; give the data file(s) inside it")


def test_bad_threshold_is_exit_2_naming_it(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("d.csv", "a\n1\n2\n"), "--threshold", "max_missing_ratio=2")
    assert result.code == 2
    assert "threshold max_missing_ratio: Input should be less than or equal to 1" in _one_line(result)
