"""The package's structure holds: imports point one way (the layer contract in pyproject.toml) and no two
sibling modules import each other, directly or around a circle (import-linter on the real import graph)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_in_pyproject_hold() -> None:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    checked = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 kept, 0 broken" in checked.stdout


def test_mypy_with_the_pydantic_plugin_finds_no_error_in_the_package(tmp_path: Path) -> None:
    """``[tool.mypy]`` in pyproject.toml: the whole of src/hokusai, the pydantic plugin, no unused ignores."""
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]
    assert "Success: no issues found" in checked.stdout
