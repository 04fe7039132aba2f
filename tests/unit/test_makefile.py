"""The README's two commands install what they need: `make up` the runtime distribution only (no test tools),
`make test` the test extras on top, and neither reinstalls what the other installed (two stamp files).
Checked with `make -n` (what make would run) on a copy of the Makefile and the files it depends on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME, TESTS = ".venv/bin/.installed", ".venv/bin/.installed-test"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml", "docker/constraints.txt", "tests/contracts/package-lock.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def planned(checkout: Path, target: str, *stamps: str) -> list[str]:
    """The pip installs ``make -n target`` would run, with ``stamps`` present and newer than their inputs."""
    for stamp in stamps:
        (checkout / stamp).parent.mkdir(parents=True, exist_ok=True)
        (checkout / stamp).touch()
        os.utime(checkout / stamp, (2_000_000_000, 2_000_000_000))
    made = subprocess.run(["make", "-n", target], cwd=checkout, capture_output=True, text=True, check=True)
    marker = "--constraint docker/constraints.txt"
    return [line.split(marker, 1)[1].strip() for line in made.stdout.splitlines() if marker in line]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_up_installs_the_runtime_only_and_make_test_adds_the_test_extras(checkout: Path) -> None:
    assert planned(checkout, "up") == ["-e ."]  # a fresh clone: the runtime, no test tools
    assert planned(checkout, "test") == ["-e .", "-e '.[test]'"]
    assert planned(checkout, "test", RUNTIME) == ["-e '.[test]'"]  # after `make up`: only the test extras
    assert planned(checkout, "up", RUNTIME, TESTS) == []  # after `make test`: nothing reinstalled
