"""Benchmark specs as the one contract: a regression model through the whole flow (SQLite and
PostgreSQL), a guardrail that blocks a gain bought with a recall collapse, the cooldown between two
DeltaOnes, spec versions, and a benchmark whose bytes are not the pinned ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest
from eth_account import Account

import hokusai
from hokusai.errors import Conflict
from tests.integration.resources.conftest import DOMAIN, DemoFiles
from tests.support.mlflow import mlflow_settings
from tests.support.platform import Platform, serve_platform
from tests.support.regression import RegressionFiles, regression_files

pytestmark = pytest.mark.realparts
SPEC = {"threshold": 0.1, "cooldown_seconds": 3600, "guardrails": [{"metric": "mae", "max_drop": 0.05}]}


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> RegressionFiles:
    return regression_files(tmp_path_factory.mktemp("regression"))


def _owner(platform: Platform, name: str) -> hokusai.Client:
    """A client for a new owner principal called ``name``."""
    with platform.client() as admin:
        key = admin.keys.create(f"{name}'s key", ["read", "write"], principal_name=name).key
    return hokusai.Client(api_key=key, url=platform.url)


def _contribute(platform: Platform, model: str, path: Path) -> hokusai.client.Contribution:
    """A contribution credited to a fresh wallet (an admin submits it for the wallet)."""
    with platform.client() as admin:
        return admin.contributions.submit(model, path, signer=Account.create())


def whole_regression_flow(platform: Platform, files: RegressionFiles, name: str, tmp_path: Path) -> None:
    """Register a regressor with a spec, contribute, run, verify the attestation, read the lineage; a
    second contribution within the cooldown is refused with the time left."""
    owner = _owner(platform, f"{name}-owner")
    model = owner.models.register(
        name, target=files.target, train=files.base, benchmark=files.benchmark, archive=files.model_dir,
        model_type="regression", spec=SPEC,
    )  # fmt: skip
    spec = owner.benchmarks.current(name)
    assert model.model_dump()["benchmark_spec"]["id"] == spec.id and spec.version == 1
    assert spec.spec["task"] == "regression" and spec.spec["primary_metric"] is None  # RMSE by default
    assert spec.spec["contribution_schema"]["allow_extra_columns"] is False

    wallet = Account.create()
    contributor = hokusai.Client(url=platform.url, wallet=wallet, domain=DOMAIN)
    rows = pd.read_csv(files.contribution)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    rows.iloc[:900].to_csv(first, index=False)
    rows.iloc[900:].to_csv(second, index=False)
    contribution = contributor.contributions.submit(name, first)
    final = contributor.runs.wait(
        contributor.runs.submit(name, [contribution.id]).id, timeout=600, interval=0.5
    )
    assert final.state == "succeeded", final.error
    assert final.outcome == "accepted", final.result
    result = final.result
    assert result is not None
    assert result.task == "regression" and result.primary_metric == "rmse" and result.unit == "rmse"
    assert result.gain is not None and result.gain > 0.1 and result.delta_pp is None
    assert owner.benchmarks.get(spec.id).used  # immutable from now on

    report = contributor.attestations.report(final.attestation_id)
    assert report["task"] == "regression" and report["metric_family"] == "continuous"
    assert report["options"]["benchmark_spec"] == {"id": spec.id, "version": 1, "hash": spec.hash}
    assert report["outcome"]["guardrails"][0]["metric"] == "mae"
    assert report["outcome"]["minimum_detectable_effect"] > 0
    assert report["paired_tests"]["squared_error"]["wilcoxon_p"] < 0.05
    document = contributor.attestations.get(final.attestation_id)
    verdict = contributor.attestations.verify(document, report)
    assert verdict.valid, verdict.checks
    (tmp_path / "attestation.json").write_text(json.dumps(document))
    (tmp_path / "evaluation_report.json").write_text(json.dumps(report))
    signer = verdict.model_dump()["signer"]
    command = [sys.executable, "-m", "hokusai", "attest", "verify", str(tmp_path / "attestation.json"),
               "--signer", signer, "--data", str(first)]  # fmt: skip
    env = {**os.environ, "HOKUSAI_DATA_DIR": str(platform.settings.data_dir)}
    cli = subprocess.run(command, capture_output=True, text=True, env=env)
    assert cli.returncode == 0, cli.stdout + cli.stderr

    lineage = owner.models.lineage(name)
    newest = lineage.versions[-1]
    assert newest.role == "improvement" and newest.unit == "rmse"
    assert lineage.unit == "rmse" and lineage.cumulative_improvement == pytest.approx(result.gain)
    assert lineage.cumulative_improvement_pp is None  # RMSE is not in percentage points

    later = contributor.contributions.submit(name, second)
    with pytest.raises(Conflict) as cooled:  # refused at submit: nothing is evaluated
        contributor.runs.submit(name, [later.id])
    assert cooled.value.code == "cooldown" and "h left" in cooled.value.message
    assert 0 < cooled.value.details["seconds_left"] <= 3600


def test_a_regression_model_goes_through_the_whole_flow_on_sqlite(
    platform: Platform, regression: RegressionFiles, tmp_path: Path
) -> None:
    whole_regression_flow(platform, regression, "demand-sqlite", tmp_path)


def test_a_regression_model_goes_through_the_whole_flow_on_postgres(
    tmp_path: Path,
    pg_url: str,
    mlflow_server,
    regression: RegressionFiles,  # type: ignore[no-untyped-def]
) -> None:
    settings = mlflow_settings(
        tmp_path / "state", database_url=pg_url, mlflow_url=mlflow_server.url, public_domain=DOMAIN,
        job_workers=1,
    )  # fmt: skip
    with serve_platform(settings) as served:
        whole_regression_flow(served, regression, "demand-postgres", tmp_path)


def test_a_guardrail_blocks_an_auroc_gain_bought_with_a_recall_collapse(
    platform: Platform, demo_files: DemoFiles, tmp_path: Path
) -> None:
    """Nearly only negative rows: the candidate ranks better (AUROC up, past the threshold, interval
    above 0) but finds far fewer positives. The owner's guardrail on recall refuses it."""
    rows = pd.read_csv(demo_files.contribution)
    label = rows[demo_files.target]
    skewed = pd.concat([rows[label == 0], rows[label == 1].sample(frac=0.05, random_state=0)])
    path = tmp_path / "skewed.csv"
    skewed.to_csv(path, index=False)
    owner = _owner(platform, "guarded-owner")
    owner.models.register(
        "guarded", target=demo_files.target, train=demo_files.base, benchmark=demo_files.benchmark,
        archive=demo_files.model_dir, spec={"guardrails": [{"metric": "recall", "max_drop": 2.0}]},
    )  # fmt: skip
    contribution = _contribute(platform, "guarded", path)
    final = owner.runs.wait(owner.runs.submit("guarded", [contribution.id]).id, timeout=600, interval=0.5)
    assert final.state == "succeeded" and final.outcome == "guardrail_violated", final.result
    outcome = owner.attestations.report(final.attestation_id)["outcome"]
    assert outcome["gain"] >= outcome["threshold"] and outcome["ci_low"] > 0  # AUROC alone would pass
    (check,) = outcome["guardrails"]
    assert check["metric"] == "recall" and check["violated"] and check["drop"] > 2.0
    assert check["drop_low"] is not None and check["unit"] == "pp"
    assert "recall" in outcome["reason_text"]


def test_spec_versions_in_place_before_a_run_then_new_ones(
    platform: Platform, demo_files: DemoFiles, tmp_path: Path
) -> None:
    owner = _owner(platform, "versioned-owner")
    owner.models.register(
        "versioned", target=demo_files.target, train=demo_files.base, benchmark=demo_files.benchmark,
        archive=demo_files.model_dir,
    )  # fmt: skip
    first = owner.benchmarks.current("versioned")
    changed = owner.benchmarks.change("versioned", threshold=0.5)
    assert (changed.id, changed.version, changed.spec["threshold"]) == (first.id, 1, 0.5)  # no run used it
    assert changed.hash != first.hash
    contribution = _contribute(platform, "versioned", demo_files.contribution)
    run = owner.runs.wait(owner.runs.submit("versioned", [contribution.id]).id, timeout=600, interval=0.5)
    assert (
        run.model_dump()["benchmark_spec_id"] == first.id
        and run.result is not None
        and run.result.outcome == "accepted"
    )
    second = owner.benchmarks.change("versioned", seed=7)
    assert second.version == 2 and second.id != first.id and second.current
    assert owner.benchmarks.get(first.id).spec["seed"] == 42 and not owner.benchmarks.get(first.id).current
    with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {owner.api_key}"}) as http:
        stale = http.patch(f"/api/v1/benchmarks/{first.id}", json={"seed": 8})
        wrong = http.post("/api/v1/benchmarks", json={"model": "versioned", "primary_metric": "rmse"})
        other = http.post("/api/v1/benchmarks", json={"model": "demand-sqlite", "seed": 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "spec_superseded"
    assert wrong.status_code == 400 and "rmse" in wrong.json()["error"]["message"]
    assert other.status_code in (403, 404)  # another owner's model
    assert [b.version for b in owner.benchmarks.list("versioned")] == [1, 2]


def test_a_benchmark_whose_bytes_are_not_the_pinned_ones_is_refused(
    platform: Platform, demo_files: DemoFiles
) -> None:
    """Someone with storage access swaps the benchmark file: the run refuses to evaluate on it."""
    owner = _owner(platform, "pinned-owner")
    owner.models.register(
        "pinned", target=demo_files.target, train=demo_files.base, benchmark=demo_files.benchmark,
        archive=demo_files.model_dir,
    )  # fmt: skip
    contribution = _contribute(platform, "pinned", demo_files.contribution)
    spec = owner.benchmarks.current("pinned")
    with platform.app.state.hokusai.sessions() as session:
        from hokusai.server.db.models import Dataset

        dataset = session.get(Dataset, spec.model_dump()["benchmark_dataset_id"])
        stored = platform.app.state.hokusai.store.local_path(dataset.storage_key)
    original = stored.read_bytes()
    stored.write_bytes(pd.read_csv(stored).iloc[::-1].to_csv(index=False).encode())  # same rows, other bytes
    try:
        final = owner.runs.wait(owner.runs.submit("pinned", [contribution.id]).id, timeout=600, interval=0.5)
    finally:
        stored.write_bytes(original)  # the other tests' models share the stored benchmark
    assert final.state == "failed" and final.error is not None and final.error.code == "benchmark_mismatch", (
        final.error
    )
    assert final.attestation_id is None
