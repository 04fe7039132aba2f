"""The whole product, as its users meet it: an owner, a contributor's wallet, a run, an attestation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from eth_account import Account
from mlflow.tracking import MlflowClient

import hokusai
from tests.integration.resources.conftest import DOMAIN, DemoFiles
from tests.support.platform import Platform

pytestmark = pytest.mark.realparts


def test_owner_contributor_run_attestation_lineage_and_mlflow(
    platform: Platform, demo_files: DemoFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = platform.client()
    owner_key = admin.keys.create("model owner", ["read", "write"], principal_name="owner").key
    owner = hokusai.setup(api_key=owner_key, url=platform.url)

    # the owner logs the baseline with the stock MLflow client, through the platform's proxy
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unset")
    hokusai.configure_mlflow(owner)
    mlflow.set_experiment("owner-baselines")
    with mlflow.start_run() as logged:
        mlflow.log_artifacts(str(demo_files.model_dir), "model")
    model = owner.models.register(
        "breast-cancer", target=demo_files.target, train=demo_files.base, benchmark=demo_files.benchmark,
        source_uri=f"runs:/{logged.info.run_id}/model",
    )  # fmt: skip
    assert model.baseline_uri.startswith("models:/breast-cancer/")

    # a contributor signs in with a wallet and uploads data
    wallet = Account.create()
    contributor = hokusai.Client(url=platform.url, wallet=wallet, domain=DOMAIN)
    contribution = contributor.contributions.submit("breast-cancer", demo_files.contribution)
    assert contribution.contributor_address == wallet.address
    assert (
        contribution.data_hash
        == subprocess.run(
            ["sha256sum", str(demo_files.contribution)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
    )

    # the contributor asks for an evaluation; a retry with the same key is the same run
    run = contributor.runs.submit("breast-cancer", [contribution.id], idempotency_key="first-eval")
    assert (
        contributor.runs.submit("breast-cancer", [contribution.id], idempotency_key="first-eval").id == run.id
    )
    final = contributor.runs.wait(run.id, timeout=600, interval=0.5)
    assert final.state == "succeeded", final.error
    assert final.outcome == "accepted" and final.delta_one_score > 0

    # the attestation verifies through the API and with the CLI
    document = contributor.attestations.get(final.attestation_id)
    verdict = contributor.attestations.verify(document)
    assert verdict.valid, verdict.checks
    attestation_file = tmp_path / "attestation.json"
    attestation_file.write_text(json.dumps(document))
    (tmp_path / "evaluation_report.json").write_text(
        json.dumps(contributor.attestations.report(final.attestation_id))
    )
    signer = verdict.model_dump()["signer"]
    command = [sys.executable, "-m", "hokusai", "attest", "verify", str(attestation_file), "--signer", signer,
               "--data", str(demo_files.contribution)]  # fmt: skip
    env = {**os.environ, "HOKUSAI_DATA_DIR": str(platform.settings.data_dir)}
    cli = subprocess.run(command, capture_output=True, text=True, env=env)
    assert cli.returncode == 0, cli.stdout + cli.stderr

    # the lineage shows the baseline first, then the new version with this contributor
    lineage = owner.models.lineage("breast-cancer")
    assert lineage.versions[0].role == "baseline"
    newest = lineage.versions[-1]
    assert newest.role == "improvement" and newest.attestation_id == final.attestation_id
    assert newest.contributions is not None
    assert [c.contributor_address for c in newest.contributions] == [wallet.address]
    (only,) = newest.contributions
    assert only.value_pp is not None and only.value_pp > 0 and only.near_duplicates == 0
    assert "value_se_pp" in only.model_dump()
    assert lineage.cumulative_improvement_pp is not None and lineage.cumulative_improvement_pp > 0

    # the stock MLflow client, through the proxy, sees the run and its artifacts
    tracked = MlflowClient().get_run(final.model_dump()["mlflow_run_id"])
    assert tracked.data.metrics  # baseline_/candidate_/delta_ metrics were logged
    assert "attestation.json" in {a.path for a in MlflowClient().list_artifacts(tracked.info.run_id)}

    impact = contributor.contributors.impact(wallet.address)  # a wallet's impact is its own to read
    assert impact.accepted_runs == 1 and impact.models["breast-cancer"].weighted_delta_one > 0
    assert impact.models["breast-cancer"].attestations[0].value_pp == only.value_pp
