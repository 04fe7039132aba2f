"""Reading: every format through the same streaming readers, formats confirmed by content."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hokusai.data import TypeDrift, detect_format, iter_batches, read_frame, readers
from hokusai.errors import InvalidInput

ROWS = [
    {"id": 1, "city": "Köln", "score": 0.5, "ok": True},
    {"id": 2, "city": "Lyon", "score": 1.25, "ok": False},
    {"id": 3, "city": "Osaka", "score": None, "ok": True},
]
CSV = "id,city,score,ok\n1,Köln,0.5,true\n2,Lyon,1.25,false\n3,Osaka,,true\n"

Writer = Callable[[str, str | bytes], Path]


def _all_formats(write: Writer, tmp_path: Path) -> list[Path]:
    jsonl = "".join(json.dumps(row) + "\n" for row in ROWS)
    paths = [
        write("t.csv", CSV),
        write("t.tsv", CSV.replace(",", "\t")),
        write("t.json", json.dumps(ROWS, indent=2)),
        write("t.jsonl", jsonl),
        write("t.csv.gz", gzip.compress(CSV.encode())),
        write("t.jsonl.gz", gzip.compress(jsonl.encode())),
    ]
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "t.parquet")
    return [*paths, tmp_path / "t.parquet"]


def test_every_format_reads_to_the_same_table(write: Writer, tmp_path: Path) -> None:
    expected = pd.DataFrame(ROWS)
    for path in _all_formats(write, tmp_path):
        frame = read_frame(path)
        assert frame.columns.tolist() == ["id", "city", "score", "ok"], path
        assert frame["id"].tolist() == [1, 2, 3], path
        assert frame["city"].tolist() == expected["city"].tolist(), path
        assert frame["score"].iloc[:2].tolist() == [0.5, 1.25], path
        assert pd.isna(frame["score"].iloc[2]), path
        assert frame["ok"].tolist() == [True, False, True], path


def test_format_comes_from_the_extension_and_gzip_is_flagged(write: Writer, tmp_path: Path) -> None:
    kinds = {p.name: (detect_format(p).kind, detect_format(p).gzip) for p in _all_formats(write, tmp_path)}
    assert kinds == {
        "t.csv": ("csv", False),
        "t.tsv": ("tsv", False),
        "t.json": ("json", False),
        "t.jsonl": ("jsonl", False),
        "t.csv.gz": ("csv", True),
        "t.jsonl.gz": ("jsonl", True),
        "t.parquet": ("parquet", False),
    }


def test_batches_hold_at_most_batch_rows_and_cover_every_row(write: Writer) -> None:
    path = write("many.csv", "n,sq\n" + "".join(f"{i},{i * i}\n" for i in range(2500)))
    batches = list(iter_batches(path, batch_rows=1000))
    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    assert pa.Table.from_batches(batches).column("n").to_pylist() == list(range(2500))


def test_json_array_is_streamed_in_batches_too(write: Writer) -> None:
    path = write("many.json", json.dumps([{"n": i} for i in range(250)]))
    assert [b.num_rows for b in iter_batches(path, batch_rows=100)] == [100, 100, 50]


def test_semicolon_delimiter_is_sniffed(write: Writer) -> None:
    path = write("semi.csv", "a;b;c\n1;2;3\n4;5;6\n")
    assert detect_format(path).delimiter == ";"
    assert read_frame(path)["c"].tolist() == [3, 6]


def test_latin1_csv_is_detected_and_decoded(write: Writer) -> None:
    path = write("legacy.csv", "name,city\nJosé,Köln\n".encode("latin-1"))
    assert detect_format(path).encoding == "latin-1"
    assert read_frame(path).iloc[0].tolist() == ["José", "Köln"]


def test_utf8_byte_order_mark_is_not_part_of_the_first_column_name(write: Writer) -> None:
    path = write("bom.csv", b"\xef\xbb\xbfa,b\n1,2\n")
    assert read_frame(path).columns.tolist() == ["a", "b"]


def test_quoted_newlines_stay_inside_their_value(write: Writer) -> None:
    path = write("quoted.csv", 'id,note\n1,"two\nlines"\n2,plain\n')
    assert read_frame(path)["note"].tolist() == ["two\nlines", "plain"]


def test_read_frame_selects_columns(write: Writer) -> None:
    path = write("t.csv", CSV)
    assert read_frame(path, columns=["score", "id"]).columns.tolist() == ["score", "id"]


def test_selecting_an_unknown_column_names_the_columns_there_are(write: Writer) -> None:
    path = write("t.csv", CSV)
    with pytest.raises(InvalidInput, match=r"t.csv: csv: no column 'nope' \(columns: id, city, score, ok\)"):
        read_frame(path, columns=["nope"])


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """CSV types are inferred from the first block; tiny blocks make 'later in the file' cheap."""
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 256)


def test_a_float_after_the_first_block_widens_the_int_column(write: Writer, small_blocks: None) -> None:
    path = write("drift.csv", "n\n" + "".join(f"{i}\n" for i in range(300)) + "2.5\n")
    frame = read_frame(path)
    assert str(frame["n"].dtype) == "float64"
    assert frame["n"].iloc[-1] == 2.5
    assert len(frame) == 301


def test_text_after_empty_cells_makes_the_column_text(write: Writer, small_blocks: None) -> None:
    path = write("sparse.csv", "id,note\n" + "".join(f"{i},\n" for i in range(300)) + "300,late\n")
    frame = read_frame(path)
    assert frame["note"].iloc[-1] == "late"
    assert frame["note"].isna().sum() == 300


def test_iter_batches_reports_type_drift_with_the_column(write: Writer, small_blocks: None) -> None:
    path = write("drift.csv", "n\n" + "".join(f"{i}\n" for i in range(300)) + "x\n")
    with pytest.raises(TypeDrift) as drift:
        list(iter_batches(path))
    assert drift.value.column == "n"
    assert drift.value.widened == pa.string()


def test_json_keys_with_mixed_types_get_one_type_over_the_whole_file(write: Writer) -> None:
    records = [{"a": 1, "b": 1}, {"a": 2.5, "b": "x"}, {"a": None, "c": {"nested": [1]}}]
    frame = read_frame(write("mixed.jsonl", "".join(json.dumps(r) + "\n" for r in records)))
    assert frame["a"].iloc[:2].tolist() == [1.0, 2.5]
    assert frame["b"].iloc[:2].tolist() == ["1", "x"]
    assert frame["c"].iloc[2] == '{"nested":[1]}'


def test_progress_reaches_the_file_size(write: Writer) -> None:
    path = write("many.csv", "n\n" + "".join(f"{i}\n" for i in range(5000)))
    seen: list[tuple[int, int]] = []
    list(iter_batches(path, batch_rows=100, progress=lambda done, total: seen.append((done, total))))
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)


def test_invalid_utf8_after_the_first_block_names_column_and_line(write: Writer, small_blocks: None) -> None:
    body = "".join(f"{i},fine\n" for i in range(9000)).encode()  # beyond the 64 KiB encoding sample
    path = write("late.csv", b"n,note\n" + body + b"9000,bad \xff\n")
    with pytest.raises(InvalidInput, match=r"late.csv: csv: invalid UTF-8 in column 'note' at line 9002;"):
        read_frame(path)


def test_a_json_element_that_is_not_an_object_names_its_line(write: Writer) -> None:
    with pytest.raises(
        InvalidInput, match=r"bad\.json: json: line 3: each array element must be a JSON object"
    ):
        read_frame(write("bad.json", '[\n  {"a": 1},\n  [1, 2]\n]\n'))
