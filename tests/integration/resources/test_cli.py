"""The platform CLI against a running server: models, contribute with a wallet, runs, attest get/verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from tests.integration.resources.conftest import DemoFiles
from tests.support.platform import Platform

pytestmark = pytest.mark.realparts


def hokusai(
    platform: Platform, *args: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HOKUSAI_URL": platform.url, "HOKUSAI_API_KEY": platform.admin_key}
    environment["HOKUSAI_DATA_DIR"] = str(platform.settings.data_dir)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "hokusai", *args], capture_output=True, text=True, env=environment, cwd=cwd
    )


def test_register_contribute_with_a_wallet_run_and_verify_from_the_command_line(
    platform: Platform, demo_files: DemoFiles, tmp_path: Path
) -> None:
    registered = hokusai(
        platform, "models", "register", "cli-model", "--target", demo_files.target,
        "--train", str(demo_files.base), "--benchmark", str(demo_files.benchmark),
        "--archive", str(demo_files.model_dir), "--json",
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    listed = hokusai(platform, "models", "list", "--json")
    assert "cli-model" in {m["name"] for m in json.loads(listed.stdout)}

    wallet = Account.create()
    key = wallet.key.hex()
    contributed = hokusai(
        platform, "contribute", str(demo_files.contribution), "--model", "cli-model", "--wallet", "--json",
        HOKUSAI_WALLET_KEY=key, HOKUSAI_API_KEY="",
    )  # fmt: skip
    assert contributed.returncode == 0, contributed.stderr
    contribution = json.loads(contributed.stdout)
    assert contribution["contributor_address"] == wallet.address
    assert key not in contributed.stdout + contributed.stderr

    submitted = hokusai(
        platform, "runs", "submit", "--model", "cli-model", "--contribution", contribution["id"],
        "--wait", "--json", "--wallet", HOKUSAI_WALLET_KEY=key, HOKUSAI_API_KEY="",
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    run = json.loads(submitted.stdout)
    assert run["state"] == "succeeded"
    status = hokusai(platform, "runs", "status", run["id"], "--json")
    assert json.loads(status.stdout)["attestation_id"] == run["attestation_id"]

    # for people: a short summary with the next command, never the JSON, nothing cut at 80 columns
    shown = hokusai(platform, "runs", "status", run["id"], COLUMNS="80")
    assert shown.returncode == 0 and not shown.stdout.lstrip().startswith("{")
    assert f"next: hokusai attest get {run['attestation_id']}" in shown.stdout
    assert wallet.address in shown.stdout and run["outcome"] in shown.stdout
    assert len(shown.stdout.splitlines()) < 30
    model_shown = hokusai(platform, "models", "get", "cli-model", COLUMNS="80")
    assert "next: hokusai contribute FILE --model cli-model" in model_shown.stdout

    # a new user, in an empty folder, with only HOKUSAI_URL: no key, no data dir of the platform's
    elsewhere = tmp_path / "new-user"
    elsewhere.mkdir()
    newcomer = {"HOKUSAI_API_KEY": "", "HOKUSAI_DATA_DIR": str(elsewhere / "data"), "HOME": str(elsewhere)}
    fetched = hokusai(platform, "attest", "get", run["attestation_id"], cwd=elsewhere, **newcomer)
    assert fetched.returncode == 0, fetched.stderr
    data = ("--data", str(demo_files.contribution))
    verified = hokusai(platform, "attest", "verify", "attestation.json", *data, cwd=elsewhere, **newcomer)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert not (elsewhere / "data" / "signer.key").exists()  # checked against the published signers
    newcomer["HOKUSAI_URL"] = ""
    alone = hokusai(platform, "attest", "verify", "attestation.json", cwd=elsewhere, **newcomer)
    assert alone.returncode == 2 and len(alone.stderr.strip().splitlines()) == 1, alone.stderr


def test_benchmark_specs_from_the_command_line(
    platform: Platform, demo_files: DemoFiles, tmp_path: Path
) -> None:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("guardrails:\n  - {metric: recall, max_drop: 3}\ncooldown_seconds: 600\n")
    registered = hokusai(
        platform, "models", "register", "cli-specs", "--target", demo_files.target,
        "--train", str(demo_files.base), "--benchmark", str(demo_files.benchmark),
        "--archive", str(demo_files.model_dir), "--spec", str(spec_file), "--json",
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    changed = hokusai(
        platform, "benchmarks", "set", "cli-specs", "threshold=0.5", "primary_metric=f1", "--json"
    )
    assert changed.returncode == 0, changed.stderr
    spec = json.loads(changed.stdout)
    assert (
        spec["version"] == 1 and spec["spec"]["threshold"] == 0.5 and spec["spec"]["primary_metric"] == "f1"
    )
    assert spec["spec"]["guardrails"] == [{"metric": "recall", "max_drop": 3.0}]
    assert spec["spec"]["cooldown_seconds"] == 600
    listed = hokusai(platform, "benchmarks", "list", "--model", "cli-specs", COLUMNS="200")
    assert listed.returncode == 0 and spec["hash"][:12] in listed.stderr + listed.stdout
    wrong = hokusai(platform, "benchmarks", "set", "cli-specs", "primary_metric=rmse")
    assert wrong.returncode == 2 and "rmse" in wrong.stderr and "Traceback" not in wrong.stderr


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (("runs", "status", "no-such-run"), {}, "no run 'no-such-run'"),
        (
            ("contribute", "missing.csv", "--model", "m", "--wallet"),
            {"HOKUSAI_WALLET_KEY": ""},
            "HOKUSAI_WALLET_KEY",
        ),
        (
            ("contribute", "missing.csv", "--model", "m", "--wallet"),
            {"HOKUSAI_WALLET_KEY": "0xnothex"},
            "not a valid",
        ),
        (
            ("models", "get", "nope"),
            {"HOKUSAI_API_KEY": "hk_test_bogus_key"},
            "refused the API key (HOKUSAI_API_KEY)",
        ),
        (("models", "list"), {"HOKUSAI_API_KEY": ""}, "set HOKUSAI_API_KEY"),
    ],
)
def test_command_line_errors_are_one_line_with_exit_2(
    platform: Platform, args: tuple[str, ...], env: dict[str, str], needle: str
) -> None:
    result = hokusai(platform, *args, **env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.stderr
