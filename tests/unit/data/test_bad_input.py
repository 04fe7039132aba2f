"""Each bad input: one clear line on stderr and its exit code (2 unreadable, 1 invalid); no traceback."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

Writer = Callable[[str, str | bytes], Path]
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _one_line(result) -> str:
    assert "Traceback" not in result.err
    assert len(result.err_lines) == 1, result.err
    return result.err_lines[0]


def test_empty_file_is_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("empty.csv", b""))
    assert result.code == 2
    assert _one_line(result).endswith("empty.csv: csv: empty file (0 bytes)")


def test_header_only_file_is_invalid_data_exit_1(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("header.csv", "a,b,c\n"))
    assert result.code == 1
    assert _one_line(result) == "error: data is invalid: 1 error finding(s): rows.none"
    assert "no data rows" in result.out


def test_ragged_csv_row_is_exit_2_naming_row_and_line(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n"))
    assert result.code == 2
    assert _one_line(result).endswith("ragged.csv: csv: row 2 (line 3) has 2 fields, the header has 3")


def test_ragged_row_deep_in_a_large_file_is_found(cli: Callable, write: Writer) -> None:
    rows = "".join(f"{i},{i}\n" for i in range(200_000))
    result = cli("validate", write("deep.csv", "a,b\n" + rows + "1,2,3\n"))
    assert result.code == 2
    assert _one_line(result).endswith("row 200001 (line 200002) has 3 fields, the header has 2")


def test_wrong_delimiter_for_the_extension_is_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("data.tsv", "a,b,c\n1,2,3\n4,5,6\n"))
    assert result.code == 2
    assert _one_line(result).endswith(
        "data.tsv: tsv: no tab between columns; the content looks comma-separated (name the file .csv)"
    )


def test_latin1_csv_is_read_as_latin1_and_says_so(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("legacy.csv", "city,n\nKöln,1\nMünchen,2\n".encode("latin-1")))
    assert result.code == 0, result.err
    assert "latin-1" in result.out


def test_latin1_bytes_in_json_are_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("legacy.jsonl", '{"a": "x"}\n{"a": "Köln"}\n'.encode("latin-1")))
    assert result.code == 2
    assert _one_line(result).endswith(
        "legacy.jsonl: jsonl: invalid UTF-8 at line 2 (JSON must be UTF-8 text)"
    )


def test_invalid_utf8_mixed_with_utf8_is_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("mixed.csv", b"name,city\nJos\xc3\xa9,K\xf6ln\n"))
    assert result.code == 2
    assert _one_line(result).endswith(
        "mixed.csv: csv: invalid UTF-8 at line 2: the file mixes UTF-8 with other bytes; re-save it as UTF-8"
    )


def test_invalid_utf8_after_the_sniffed_sample_names_column_and_line(cli: Callable, write: Writer) -> None:
    body = "".join(f"{i},plain text\n" for i in range(20_000)).encode()
    result = cli("validate", write("late.csv", b"n,note\n" + body + b"5,bad \xff byte\n"))
    assert result.code == 2
    assert _one_line(result).endswith(
        "late.csv: csv: invalid UTF-8 in column 'note' at line 20002; re-save the file as UTF-8"
    )


def test_json_object_where_records_were_expected_is_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("object.json", '{"a": 1, "b": 2}\n'))
    assert result.code == 2
    assert "object.json: json: a JSON object where records were expected" in _one_line(result)


def test_broken_json_names_the_line(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("broken.json", '[\n  {"a": 1},\n  {"a": 2,,}\n]\n'))
    assert result.code == 2
    assert "broken.json: json: line 3: invalid JSON" in _one_line(result)


def test_truncated_parquet_is_exit_2(cli: Callable, tmp_path: Path) -> None:
    whole = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(1000))}), whole)
    path = tmp_path / "cut.parquet"
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    result = cli("validate", path)
    assert result.code == 2
    assert _one_line(result).endswith(
        "cut.parquet: parquet: truncated or corrupt Parquet file (the footer is missing)"
    )


def test_zero_byte_gz_is_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("zero.csv.gz", b""))
    assert result.code == 2
    assert _one_line(result).endswith("zero.csv.gz: csv.gz: empty file (0 bytes)")


def test_gz_of_nothing_is_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("nothing.csv.gz", gzip.compress(b"")))
    assert result.code == 2
    assert _one_line(result).endswith("nothing.csv.gz: csv.gz: empty file (the gzip stream holds no data)")


def test_truncated_gz_is_exit_2(cli: Callable, write: Writer) -> None:
    packed = gzip.compress(("a,b\n" + "".join(f"{i},{i * 7919 % 10007}\n" for i in range(100_000))).encode())
    result = cli("validate", write("cut.csv.gz", packed[: len(packed) // 2]))
    assert result.code == 2
    assert "cut.csv.gz: csv.gz: truncated or corrupt gzip data" in _one_line(result)


def test_column_named_twice_is_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("dup.csv", "a,b,a\n1,2,3\n"))
    assert result.code == 2
    assert _one_line(result).endswith(
        "dup.csv: csv: column 'a' appears more than once (columns 1 and 3); column names must be unique"
    )


def test_json_key_twice_in_a_record_is_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("dup.jsonl", '{"a": 1}\n{"a": 1, "a": 2}\n'))
    assert result.code == 2
    assert _one_line(result).endswith("dup.jsonl: jsonl: line 2: key 'a' appears twice in one record")


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


def test_unsupported_extension_is_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("sheet.xlsx", b"PK\x03\x04"))
    assert result.code == 2
    assert "sheet.xlsx: unsupported file type '.xlsx'" in _one_line(result)


def test_content_that_contradicts_the_extension_is_exit_2(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("records.csv", '[{"a": 1}, {"a": 2}]'))
    assert result.code == 2
    assert "records.csv: csv: content looks like JSON" in _one_line(result)


def test_bad_threshold_is_exit_2_naming_it(cli: Callable, write: Writer) -> None:
    result = cli("validate", write("d.csv", "a\n1\n2\n"), "--threshold", "max_missing_ratio=2")
    assert result.code == 2
    assert "threshold max_missing_ratio: Input should be less than or equal to 1" in _one_line(result)
