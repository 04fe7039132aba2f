"""``hokusai pipeline run`` as a real process: a contribution that fails validation is excluded, not fatal;
exit codes mean one thing (0 accepted, 1 evaluated and not accepted, 2 refused input) with the JSON error
shape on stdout under ``--json``; a run that is not accepted signs no weights, and still verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hokusai.attestation.verify import verify_attestation
from hokusai.evaluation.report import REASONS
from tests.integration.pipeline.conftest import SIGNER_KEY, TARGET, WALLET_A, WALLET_B, Case
from tests.support.net import free_port

SRC = Path(__file__).resolve().parents[3] / "src"


def hokusai(
    case: Case, *contributions: tuple[Path, str], extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``hokusai pipeline run`` in its own process, recording into an embedded store in the test's folder."""
    pairs = [
        arg
        for path, wallet in contributions
        for arg in ("--contribution", str(path), "--contributor", wallet)
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "HOKUSAI_DATA_DIR": str(case.root / "state"),
        "HOKUSAI_MLFLOW_PORT": str(free_port()),
        "HOKUSAI_SIGNER_KEY": SIGNER_KEY,
    }
    for name in ("HOKUSAI_TRACKING_URI", "HOKUSAI_URL", "HOKUSAI_API_KEY"):
        env.pop(name, None)
    command = [
        sys.executable, "-m", "hokusai", "pipeline", "run", "--baseline", str(case.baseline_dir),
        "--train", str(case.train), "--benchmark", str(case.benchmark), *pairs, "--target", TARGET,
        "--no-register", "--out", str(case.root / "out"), *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=case.root)


def one_class(case: Case) -> Path:
    """A contribution whose labels are all one class: it fails validation against the base data's schema."""
    good = case.frames["good"]
    return case.write("one-class.csv", good[good[TARGET] == 1])


def written(case: Case) -> tuple[dict, dict]:  # type: ignore[type-arg]
    out = case.root / "out"
    return json.loads((out / "attestation.json").read_text()), json.loads(
        (out / "evaluation_report.json").read_text()
    )


def test_a_contribution_that_fails_validation_is_excluded_and_the_others_are_evaluated(case: Case) -> None:
    unreadable = case.root / "ragged.csv"
    unreadable.write_text("f0,f1,label\n1,2\n")  # a row with too few fields: the reader refuses the file
    done = hokusai(case, (case.good, WALLET_A), (one_class(case), WALLET_B), (unreadable, WALLET_B))
    assert done.returncode == 0, done.stderr[-3000:]
    attestation, report = written(case)
    kept, excluded, ragged = report["contributions"]
    assert kept["excluded"] is None and kept["paid"] is True and kept["weight_bps"] == 10_000
    assert excluded["excluded"]["code"] == "validation_failed"
    assert "contribution 2 (one-class.csv) fails validation" in excluded["excluded"]["message"]
    assert excluded["excluded"]["findings"]
    assert (excluded["paid"], excluded["reason"], excluded["weight_bps"]) == (False, "excluded", 0)
    assert ragged["reason"] == "excluded" and "file.unreadable" in ragged["excluded"]["message"]
    assert report["excluded"] == 2
    # the attestation lists them (their data hashes attested), invalid, weight 0, no rows
    assert [c["validation_status"] for c in attestation["contributors"]] == ["valid", "invalid", "invalid"]
    for listed, entry in zip(attestation["contributors"][1:], (excluded, ragged), strict=True):
        assert (listed["weight"], listed["contributed_samples"]) == (0, 0)
        assert listed["data_hash"] == entry["data_hash"]
    assert verify_attestation(attestation, report=report).valid
    # the text report says why, whole
    assert "excluded: contribution 2 (one-class.csv) fails validation" in done.stdout


def test_refused_input_exits_2_with_the_json_error_on_stdout(case: Case) -> None:
    done = hokusai(case, (one_class(case), WALLET_A), extra=("--json",))
    assert done.returncode == 2, done.stderr[-3000:]
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "validation_failed"
    assert error["message"].startswith(
        "no contribution remains: contribution 1 (one-class.csv) fails validation"
    )
    assert error["details"] and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"error: {error['message']}"
    assert not (case.root / "out").exists()


def test_a_run_that_is_not_accepted_exits_1_and_signs_no_weights(case: Case) -> None:
    done = hokusai(case, (case.flipped, WALLET_A), (case.other, WALLET_B), extra=("--json",))
    assert done.returncode == 1, done.stderr[-3000:]
    printed = json.loads(done.stdout)
    assert printed["accepted"] is False and printed["outcome"] != "accepted"
    attestation, report = written(case)
    assert [c["weight"] for c in attestation["contributors"]] == [0, 0]
    assert [c["weight_bps"] for c in printed["contributors"]] == [0, 0]
    assert report["payout"] == {"paid": False, "reason": "not_accepted", "outcome": printed["outcome"]}
    assert {(c["paid"], c["reason"]) for c in report["contributions"]} == {(False, "not_accepted")}
    assert all(c["value_pp"] is not None and c["method"] == "exact" for c in report["contributions"])
    verdict = verify_attestation(attestation, report=report)
    assert verdict.valid, verdict.failed
    assert REASONS["not_accepted"]


@pytest.mark.parametrize("command", [["pipeline", "run", "--bogus"], ["data", "validate", "missing.csv"]])
def test_usage_and_missing_files_exit_2_with_the_json_error_on_stdout(
    command: list[str], tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "hokusai", *command, "--json"], capture_output=True, text=True, env=env,
        cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)["error"]
    assert set(error) == {"code", "message", "details"} and error["message"]
    assert len(done.stderr.strip().splitlines()) == 1
