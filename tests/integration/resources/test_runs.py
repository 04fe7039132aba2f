"""Runs beyond the happy path: a failure has a reason and no attestation; a dead worker's run is failed;
and the production storage path (PostgreSQL + S3) runs an evaluation end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import func, select

from hokusai.pipeline import inputs
from hokusai.pipeline.inputs import load_inputs, verdict_cache
from hokusai.pipeline.spec import Contribution, PipelineSpec
from hokusai.server.db.models import Attestation, Dataset, Run, utcnow
from hokusai.server.db.models import Contribution as ContributionRow
from hokusai.server.jobs import local_worker_id
from hokusai.server.services import benchmarks
from hokusai.server.services.models import get_model
from tests.integration.resources.conftest import DemoFiles
from tests.support.mlflow import mlflow_settings
from tests.support.net import free_port
from tests.support.platform import Platform, serve_platform

pytestmark = pytest.mark.realparts


def register(platform: Platform, demo_files: DemoFiles, name: str) -> None:
    with platform.client() as admin:
        admin.models.register(
            name, target=demo_files.target, train=demo_files.base, benchmark=demo_files.benchmark,
            archive=demo_files.model_dir,
        )  # fmt: skip


def attestation_count(platform: Platform) -> int:
    with platform.app.state.hokusai.sessions() as session:
        return session.scalar(select(func.count()).select_from(Attestation)) or 0


def test_a_failed_run_says_why_and_leaves_no_attestation(platform: Platform, demo_files: DemoFiles) -> None:
    before = attestation_count(platform)
    with platform.client() as admin:
        # a baseline whose "training data" is the benchmark itself: leakage, which the pipeline refuses
        admin.models.register(
            "leaky", target=demo_files.target, train=demo_files.benchmark, benchmark=demo_files.benchmark,
            archive=demo_files.model_dir,
        )  # fmt: skip
        contribution = admin.contributions.submit("leaky", demo_files.contribution, signer=Account.create())
        run = admin.runs.wait(admin.runs.submit("leaky", [contribution.id]).id, timeout=300, interval=0.5)
    assert run.state == "failed"
    assert run.error and run.error.message and "benchmark" in run.error.message.lower(), run.error
    assert run.attestation_id is None
    assert attestation_count(platform) == before


def test_a_contribution_validated_at_upload_is_not_validated_again_by_the_run(
    platform: Platform, demo_files: DemoFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload's verdict is kept where the run's ``load_inputs`` looks (the local runner's worker shares
    the API's data directory): the worker reads the contribution once, for its rows, not a second time to
    check it. A cache without that verdict validates it (the spy sees the call)."""
    register(platform, demo_files, "verdicts")
    with platform.client() as admin:
        submitted = admin.contributions.submit("verdicts", demo_files.contribution, signer=Account.create())
    state = platform.app.state.hokusai
    with state.sessions() as session:
        model = get_model(session, "verdicts")
        contract = benchmarks.load(benchmarks.current(session, model))
        row = session.get(ContributionRow, submitted.id)
        assert row is not None
        dataset = session.get(Dataset, row.dataset_id)
        assert dataset is not None
        stored = state.store.local_path(dataset.storage_key)
    spec = PipelineSpec(
        baseline=str(demo_files.model_dir), train=demo_files.base, benchmark=demo_files.benchmark,
        contributions=(Contribution(stored, row.contributor_address),), target=contract.target_column,
        benchmark_spec=contract,
    )  # fmt: skip
    validated: list[Path] = []
    validate = inputs.data.validate

    def spy(path: Path, **options: object) -> object:
        validated.append(Path(path))
        return validate(path, **options)

    monkeypatch.setattr(inputs.data, "validate", spy)
    loaded = load_inputs(spec, cache=verdict_cache(platform.settings.data_dir))
    assert stored not in validated
    assert loaded.contributions[0].data_hash == dataset.sha256 and not loaded.contributions[0].excluded
    assert len(loaded.contributions[0].frame) == submitted.dataset.manifest["row_count"]
    fresh = platform.settings.data_dir / "another-cache"
    load_inputs(spec, cache=fresh)
    assert stored in validated
    # what the upload kept is what the run computes itself from the stored bytes (the path aside)
    digest = loaded.contributions[0].data_hash
    (name,) = [
        p.name for p in fresh.glob("*.json") if json.loads(p.read_text())["manifest"]["data_hash"] == digest
    ]
    kept, computed = (
        json.loads((folder / name).read_text())
        for folder in (verdict_cache(platform.settings.data_dir), fresh)
    )
    for verdict in (kept, computed):
        verdict["manifest"].pop("source_path")
    assert kept == computed


def test_a_run_left_running_by_a_dead_worker_is_failed_when_the_api_starts(
    platform: Platform, demo_files: DemoFiles
) -> None:
    register(platform, demo_files, "orphans")
    with platform.client() as admin:
        model_id = admin.models.get("orphans").id
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = Run(
        id=uuid.uuid4().hex,
        model_id=model_id,
        state="running",
        submitted_by="someone",
        request_hash="0" * 64,
        options={},
        worker=local_worker_id(dead.pid),
        created_at=utcnow(),
        started_at=utcnow(),
    )
    with platform.app.state.hokusai.sessions() as session:
        session.add(orphan)
        session.commit()
    with (
        serve_platform(platform.settings.model_copy(update={"api_port": free_port()})) as restarted,
        restarted.client(api_key=platform.admin_key) as admin,
    ):
        run = admin.runs.get(orphan.id)
    assert run.state == "failed"
    assert run.error and run.error.code == "worker_died" and str(dead.pid) in str(run.error.message)


def test_an_evaluation_on_postgres_and_s3_stores_data_in_the_bucket(
    tmp_path: Path,
    pg_url: str,
    moto_server,
    s3_client,
    s3_bucket: str,
    mlflow_server,
    demo_files: DemoFiles,  # type: ignore[no-untyped-def]
) -> None:
    settings = mlflow_settings(
        tmp_path / "state", database_url=pg_url, mlflow_url=mlflow_server.url,
        pipeline_data_root=f"s3://{s3_bucket}/data", s3_endpoint_url=moto_server.endpoint, job_workers=1,
    )  # fmt: skip
    with serve_platform(settings) as platform:
        register(platform, demo_files, "on-s3")
        with platform.client() as admin:
            contribution = admin.contributions.submit(
                "on-s3", demo_files.contribution, signer=Account.create()
            )
            run = admin.runs.wait(admin.runs.submit("on-s3", [contribution.id]).id, timeout=600, interval=0.5)
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])}
    assert f"data/sha256/{contribution.data_hash}.csv" in keys
    assert not any(key.startswith("data/tmp/") for key in keys)
    assert run.state == "succeeded", run.error
    assert run.outcome == "accepted"
