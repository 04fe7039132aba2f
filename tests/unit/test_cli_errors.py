"""The CLI fails with one readable line and exit code 2 on bad input; never a traceback."""

from __future__ import annotations

import pytest

from hokusai.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return int(exited.value.code or 0), capsys.readouterr().err


def test_unknown_flag_is_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["up", "--bogus"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: hokusai up: No such option: --bogus")


def test_bad_environment_variable_stops_up_before_anything_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOKUSAI_API_PORT", "eighty")
    code, err = run(["up"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "HOKUSAI_API_PORT='eighty' is invalid" in err
    assert "Traceback" not in err


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from hokusai import __version__

    main(["--version"])
    assert capsys.readouterr().out.strip() == __version__
