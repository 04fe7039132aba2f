"""The installed ``hokusai data`` console script as a real process: exit codes, clean stdout, one hash."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HOKUSAI = Path(sys.executable).with_name("hokusai")
CSV = "id,color,label\n" + "".join(f"{i},{'red' if i % 3 else 'blue'},{i % 2}\n" for i in range(1000))


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    if not HOKUSAI.is_file():
        pytest.skip(f"hokusai console script not available: pip install -e . (looked for {HOKUSAI})")
    return subprocess.run([str(HOKUSAI), "data", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_manifest_json_on_stdout_carries_the_sha256sum_hash(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(CSV)
    done = _run("manifest", "d.csv", "--json", "--label", "label", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    sha256sum = subprocess.run(
        ["sha256sum", "d.csv"], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    manifest = json.loads(done.stdout)
    assert manifest["files"][0]["data_manifest"]["data_hash"] == sha256sum.stdout.split()[0]
    assert manifest["validation"]["label"] == "label"


def test_invalid_data_exits_1_with_the_report_on_stdout_and_one_line_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(CSV + "1000,jane@example.org,1\n")
    done = _run("validate", "d.csv", "--json", cwd=tmp_path)
    assert done.returncode == 1
    assert json.loads(done.stdout)["valid"] is False
    assert done.stderr.strip().splitlines() == [
        "error: data is invalid: 1 error finding(s): pii.email in 'color'"
    ]


def test_unreadable_input_exits_2_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text('{"not": "records"}')
    done = _run("validate", "d.json", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
