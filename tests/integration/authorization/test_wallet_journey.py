"""A wallet-only contributor's whole journey through the CLI, as subprocesses against the real ``hokusai up``,
following the CLI's own "next:" hints as printed: no API key anywhere, only ``--wallet`` (its key in
``HOKUSAI_WALLET_KEY``) or ``--keystore``. Every hint must work as printed for the credential in use."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from eth_account import Account

from hokusai.pipeline.demo import TARGET
from tests.integration.authorization.conftest import World

pytestmark = pytest.mark.realparts
NEXT = re.compile(r"^next: (hokusai .+)$", re.MULTILINE)


def _cli(world: World, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hokusai", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
        env={**os.environ, "HOKUSAI_URL": world.url, "HOKUSAI_API_KEY": "", "COLUMNS": "200", **env},
    )  # fmt: skip


def _follow(world: World, result: subprocess.CompletedProcess[str], cwd: Path, env: dict[str, str],
            **fill: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the "next:" command ``result`` printed, as printed (placeholders such as FILE filled in)."""
    assert result.returncode == 0, result.stdout + result.stderr
    (hint,) = NEXT.findall(result.stdout)
    args = shlex.split(hint)[1:]
    return _cli(world, [fill.get(arg, arg) for arg in args], cwd, env)


def test_a_wallet_only_contributor_follows_the_cli_hints_from_a_model_to_a_verified_attestation(
    world: World, tmp_path: Path
) -> None:
    wallet = Account.create()
    env = {"HOKUSAI_WALLET_KEY": wallet.key.hex(), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    rows = pd.read_csv(world.ids["contribution_file"])
    mine = tmp_path / "mine.csv"  # rows nobody has contributed: wallet B's half, each feature nudged
    rows = rows.iloc[len(rows) // 2 + 40 :].copy()
    features = [c for c in rows.columns if c != TARGET]
    rows[features] = rows[features] * 1.001
    rows.to_csv(mine, index=False)

    model = _cli(world, ["models", "get", "m1", "--wallet"], tmp_path, env)
    assert "next: hokusai contribute FILE --model m1 --wallet" in model.stdout, model.stdout
    contributed = _follow(world, model, tmp_path, env, FILE=str(mine))
    assert "--wallet" in contributed.stdout and wallet.address in contributed.stdout, contributed.stderr
    (contribution_id,) = re.findall(r"--contribution (\w+)", contributed.stdout)
    run = _follow(world, contributed, tmp_path, env)  # runs submit … --wait --wallet
    assert run.returncode in (0, 1), run.stdout + run.stderr
    (run_id,) = re.findall(r"^run (\w+) of m1: succeeded", run.stdout, re.MULTILINE)
    fetched = _follow(world, run, tmp_path, env)  # attest get ID --wallet (participants' until accepted)
    assert (tmp_path / "attestation.json").is_file(), fetched.stdout + fetched.stderr
    verified = _follow(world, fetched, tmp_path, env)  # attest verify … --signers …: no credential needed
    assert verified.returncode == 0 and "VALID" in verified.stdout, verified.stdout + verified.stderr

    for command in (
        ["runs", "wait", run_id], ["runs", "list", "--model", "m1"],
        ["contributions", "list", "--model", "m1"], ["contributions", "show", contribution_id],
        ["models", "lineage", "m1"],
    ):  # fmt: skip
        answer = _cli(world, [*command, "--wallet", "--json"], tmp_path, env)
        assert answer.returncode == 0, (command, answer.stderr)
        if command[0] == "runs":  # a contributor's view of a run: no server path, no internal URL
            assert str(world.workdir) not in answer.stdout and "127.0.0.1" not in answer.stdout, command
            assert "report_path" not in answer.stdout and "tracking_uri" not in answer.stdout, command
        if command[:2] == ["runs", "list"]:  # a wallet sees the runs of its contributions only
            assert [r["id"] for r in json.loads(answer.stdout)] == [run_id]

    keystore = tmp_path / "keystore.json"
    keystore.write_text(json.dumps(Account.encrypt(wallet.key, "pw", kdf="pbkdf2", iterations=2)))
    with_keystore = {**env, "HOKUSAI_WALLET_KEY": "", "HOKUSAI_KEYSTORE_PASSWORD": "pw"}
    shown = _cli(world, ["runs", "status", run_id, "--keystore", str(keystore)], tmp_path, with_keystore)
    assert f"--keystore {keystore}" in shown.stdout, shown.stdout + shown.stderr

    # without a credential: the error suggests the wallet flags only where the command takes them
    bare = {**env, "HOKUSAI_WALLET_KEY": ""}
    refused = _cli(world, ["runs", "status", run_id], tmp_path, bare)
    assert refused.returncode == 2 and "--wallet" in refused.stderr, refused.stderr
    owners_only = _cli(world, ["benchmarks", "list"], tmp_path, bare)
    assert owners_only.returncode == 2 and "--wallet" not in owners_only.stderr, owners_only.stderr
