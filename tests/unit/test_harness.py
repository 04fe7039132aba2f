"""The harness itself: under HOKUSAI_REQUIRE_REAL_PARTS=1 a skipped test is a failing test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(ROOT / "tests" / "conftest.py", pytester.path / "conftest.py")
    pytester.makepyfile(
        test_part="""
        import pytest

        def test_needs_a_missing_part():
            pytest.skip("frobnicator server not installed")
        """
    )
    return pytester


def test_skip_is_a_skip_by_default(inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOKUSAI_REQUIRE_REAL_PARTS", raising=False)
    inner.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(skipped=1)


def test_skip_becomes_a_failure_naming_the_part_when_real_parts_are_required(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOKUSAI_REQUIRE_REAL_PARTS", "1")
    result = inner.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*requires every real part to run*frobnicator server not installed*"])
