"""Same inputs and seed: byte-identical attestation content, in two runs and in two processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hokusai.attestation.content import signed_view
from hokusai.config import Settings
from hokusai.hashing import canonical_json
from hokusai.pipeline import run_pipeline
from tests.integration.pipeline.conftest import SIGNER_KEY, TARGET, WALLET_A, Case
from tests.support.net import free_port


def _content(attestation: dict, report: dict) -> tuple[bytes, bytes, bytes]:
    """What is hashed and signed (timestamps and MLflow ids excluded), the seal, and the report."""
    return (
        canonical_json(signed_view(attestation)),
        canonical_json(attestation["attestation"]),
        canonical_json(report),
    )


def test_same_inputs_give_identical_attestation_content_in_two_runs_and_two_processes(
    case: Case, embedded_settings: Settings, tmp_path: Path
) -> None:
    first = run_pipeline(case.spec(register=False, out_dir=tmp_path / "one"), embedded_settings)
    second = run_pipeline(case.spec(register=False, out_dir=tmp_path / "two"), embedded_settings)
    assert first.attestation["metadata"]["timestamp"]  # present, but outside the signed content
    assert _content(first.attestation, first.report) == _content(second.attestation, second.report)

    env = {
        **os.environ,
        "HOKUSAI_DATA_DIR": str(tmp_path / "other-process"),
        "HOKUSAI_MLFLOW_PORT": str(free_port()),  # nothing listens: the other process runs embedded too
        "HOKUSAI_SIGNER_KEY": SIGNER_KEY,
        "HOKUSAI_ENVIRONMENT": embedded_settings.environment,  # signed metadata, like the key
    }
    command = [
        sys.executable, "-c", "from hokusai.cli import main; main()", "pipeline", "run",
        "--baseline", str(case.baseline_dir), "--train", str(case.train), "--benchmark", str(case.benchmark),
        "--contribution", str(case.good), "--contributor", WALLET_A, "--target", TARGET,
        "--no-register", "--out", str(tmp_path / "three"), "--json",
    ]  # fmt: skip
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    printed = json.loads(finished.stdout)
    assert {"outcome", "delta_one_score", "attestation_path", "report_path", "mlflow_run_id"} <= set(printed)
    assert printed["outcome"] == "accepted"
    assert printed["pipeline_run_id"] == first.pipeline_run_id
    third = json.loads(Path(printed["attestation_path"]).read_text())
    third_report = json.loads(Path(printed["report_path"]).read_text())
    assert _content(third, third_report) == _content(first.attestation, first.report)
    assert (tmp_path / "three" / "model" / "model.skops").read_bytes() == (
        tmp_path / "one" / "model" / "model.skops"
    ).read_bytes()


def test_another_seed_is_another_run(case: Case, embedded_settings: Settings, tmp_path: Path) -> None:
    first = run_pipeline(case.spec(register=False, out_dir=tmp_path / "a"), embedded_settings)
    other = run_pipeline(case.spec(register=False, seed=7, out_dir=tmp_path / "b"), embedded_settings)
    assert other.pipeline_run_id != first.pipeline_run_id
    assert (
        other.attestation["attestation"]["hash_tree_root"]
        != first.attestation["attestation"]["hash_tree_root"]
    )
