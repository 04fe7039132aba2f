"""Data files are bounded before they inflate: a Parquet file's declared and decoded sizes, and the JSON
nesting of a data file's records (counted before the C decoder, which recurses per level, sees them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hokusai.data.readers import INFLATE_FLOOR_BYTES, read_frame
from hokusai.errors import PayloadTooLarge
from tests.support.bombs import parquet_bomb, parquet_list_bomb


def test_a_parquet_file_that_decodes_past_its_budget_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    bomb = parquet_bomb(tmp_path / "bomb.parquet")  # 4 GB of text in a few KB
    assert bomb.stat().st_size < 64 << 10
    with pytest.raises(PayloadTooLarge) as refused:
        read_frame(bomb)
    assert refused.value.code == "inflated_too_large"
    assert refused.value.details["limit_bytes"] == INFLATE_FLOOR_BYTES


def test_a_parquet_file_whose_footer_declares_too_many_values_is_refused_before_a_page_is_read(
    tmp_path: Path,
) -> None:
    bomb = parquet_list_bomb(tmp_path / "lists.parquet")  # 200 million zeros, run-length encoded
    assert bomb.stat().st_size < 64 << 10
    with pytest.raises(PayloadTooLarge) as refused:
        read_frame(bomb)
    assert refused.value.details["member"].startswith("row group")  # from the footer, before any page


def test_an_ordinary_parquet_file_reads_as_before(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": ["a", "bb", None, "a"] * 1000, "x": range(4000)})
    frame.to_parquet(tmp_path / "ok.parquet")
    pd.testing.assert_frame_equal(read_frame(tmp_path / "ok.parquet"), frame)


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_a_deeply_nested_json_record_is_refused_not_a_crash(suffix: str, tmp_path: Path) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    path = tmp_path / f"deep{suffix}"
    record = '{"a": 1, "b": ' + nested + "}"
    path.write_text(record + "\n" if suffix == ".jsonl" else "[" + record + "]")
    # the API process runs with py_ecc's recursion limit (100000): the C decoder then recursed to SIGSEGV
    script = (
        "import sys; sys.setrecursionlimit(100000)\n"
        "from hokusai.data.readers import read_frame\nfrom hokusai.errors import HokusaiError\n"
        f"try:\n    read_frame({str(path)!r})\n"
        "except HokusaiError as exc:\n    print(exc.code, exc.message)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
    assert done.stdout.startswith("unreadable_data") and "nested deeper than 64" in done.stdout


def test_records_within_the_depth_limit_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text(json.dumps([{"a": 1, "b": [[{"c": [1]}]]}, {"a": 2, "b": None}]))
    assert read_frame(path)["a"].tolist() == [1, 2]
