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


@pytest.mark.parametrize("command", [["pipeline", "run"], ["preview"]])
def test_an_evaluation_without_its_inputs_names_the_missing_flag_in_one_line(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run([*command, "--train", "base.csv", "--target", "label"], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: hokusai {' '.join(command)}: Missing option '--baseline'. (see --help)"
    ]


def test_the_inputs_of_pipeline_run_are_marked_required_in_its_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per flag
    main(["pipeline", "run", "--help"])
    rows = [line for line in capsys.readouterr().out.splitlines() if "--" in line]
    required = {line.split()[2] for line in rows if line.startswith("│ *") and "[required]" in line}
    assert required == {"--baseline", "--train", "--benchmark", "--contribution", "--target"}
    assert not any("--run-id" in line for line in rows)  # the worker has a command of its own


def test_the_worker_needs_a_run_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["worker", "run"], capsys)
    assert (code, err.strip()) == (2, "error: hokusai worker run: Missing argument 'RUN_ID'. (see --help)")
