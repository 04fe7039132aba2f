"""The containerised stack of ``docker/compose.yaml``, end to end, through the API's published port only.

One stack per module (podman-compose; PostgreSQL and S3 are the Debian/PyPI stand-ins, the API and MLflow
the session's images): a model owner registers a model, a contributor signs in with a wallet (SIWE) and
contributes, the evaluation runs as a one-off container of the API image (job runner ``container``), its
attestation verifies VALID, its mint request is signed, and the stock MLflow client works through
``/mlflow/``. Then the faults: MLflow's and then the API's main process is killed mid-run (SIGKILL from the
host, as a crash): the run ends truthfully (failed with its reason and no attestation, or finished with a
valid one), ``/health`` and ``/ready`` say what is down while it is down, and the restart policy heals it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
import pytest
from eth_account import Account
from mlflow.tracking import MlflowClient

import hokusai
from hokusai.api_keys import generate_key
from hokusai.pipeline.demo import TARGET, prepare_demo
from tests.support import containers
from tests.support.compose import Stack, build_stand_ins, compose_missing, compose_stack
from tests.support.net import free_port

pytestmark = pytest.mark.containers
VERIFIER = "0x" + "de" * 20  # mint requests are signed for it; no chain is needed to fetch one
MODEL_ID = 2**160 + 21


@dataclass
class World:
    stack: Stack
    owner: hokusai.Client
    owner_key: str
    model: str
    contributions: list[Path]  # disjoint parts of the demo's contribution: one per run (bytes are unique)
    domain: str

    def contributor(self) -> hokusai.Client:
        """A new wallet, signed in with SIWE for this stack's domain."""
        return hokusai.Client(url=self.stack.url, wallet=Account.create(), domain=self.domain)


@pytest.fixture(scope="module")
def world(container_images: dict[str, float], tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    reason = compose_missing()
    if reason:
        pytest.skip(reason)
    build_stand_ins()
    workdir = tmp_path_factory.mktemp("stack")
    admin = generate_key(live=False)
    port = free_port()
    api_env = {
        "HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH": admin.bootstrap_line,
        "HOKUSAI_RATE_LIMIT_PER_MINUTE": "100000",
        "HOKUSAI_DELTA_VERIFIER_ADDRESS": VERIFIER,
    }
    demo = prepare_demo(workdir / "demo")
    rows = pd.read_csv(demo.contributions[0].path)
    parts = [workdir / f"part-{i}.csv" for i in range(3)]
    for i, part in enumerate(parts):
        rows.iloc[i::3].to_csv(part, index=False)
    with compose_stack(workdir, port, api_env) as stack:
        stack.wait_ready(300)
        with hokusai.Client(url=stack.url, api_key=admin.key) as root:
            owner_key = root.keys.create("model owner", ["read", "write"], principal_name="owner").key
        owner = hokusai.Client(url=stack.url, api_key=owner_key)
        owner.models.register(
            "stacked", target=TARGET, train=demo.train, benchmark=demo.benchmark, archive=Path(demo.baseline),
            spec={"cooldown_seconds": 0},
        )  # fmt: skip
        yield World(stack, owner, owner_key, "stacked", parts, f"127.0.0.1:{port}")


def wait_for_run(
    world: World, run_id: str, timeout: float = 480, each: Callable[[], None] | None = None
) -> Any:
    """Poll the run through the published port until it ends, riding out an API that is restarting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if each is not None:
            each()
        try:
            run = world.owner.runs.get(run_id)
            if run.finished:
                return run
        except hokusai.errors.ServiceUnavailable:
            pass  # the API is down or starting: the run goes on in its own container
        time.sleep(1)
    raise TimeoutError(f"run {run_id} did not end in {timeout:.0f} s")


def test_register_sign_in_contribute_evaluate_attest_mint_and_mlflow_through_the_published_port(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = world.stack
    contributor = world.contributor()
    contribution = contributor.contributions.submit(world.model, world.contributions.pop(0))
    assert contribution.contributor_address == contributor.wallet.address
    run = contributor.runs.submit(world.model, [contribution.id])

    seen: set[str] = set()  # the run's own container, seen while it runs (the API container runs no worker)
    final = wait_for_run(world, run.id, each=lambda: seen.update(stack.run_containers()))
    assert final.state == "succeeded" and final.outcome == "accepted", final.error
    assert any(name.startswith(f"hokusai-run-{run.id}-") for name in seen), seen
    # removed once it ended: the worker records the run before its container exits, then the runner
    # collects the container's log and removes it
    deadline = time.monotonic() + 60
    while stack.run_containers() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stack.run_containers() == []
    top = containers.podman("top", stack.container("api"), "args").stdout
    assert "worker" not in top

    document = contributor.attestations.get(final.attestation_id)
    verdict = contributor.attestations.verify(document)
    assert verdict.valid, verdict.checks

    world.owner.models.set_onchain_id(world.model, MODEL_ID, signer=Account.create())
    request = world.owner.runs.mint_request(run.id)
    assert request.domain["verifyingContract"].lower() == VERIFIER and len(request.signatures) == 1
    assert request.signerAddresses == world.owner.attestations.signers().signers
    assert int(request.message["modelId"]) == MODEL_ID

    # the stock MLflow client, through the proxy: it reads the evaluation's run and writes to S3 behind it
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{stack.url}/mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", world.owner_key)
    mlflow.set_tracking_uri(f"{stack.url}/mlflow")
    try:
        client = MlflowClient()
        tracked = client.get_run(final.mlflow_run_id)
        assert tracked.data.metrics
        assert "attestation.json" in {a.path for a in client.list_artifacts(tracked.info.run_id)}
        notes = tmp_path / "notes.txt"
        notes.write_text("through the proxy, into S3\n")
        mlflow.set_experiment("stack-notes")
        with mlflow.start_run() as logged:
            mlflow.log_metric("auroc", 0.9)
            mlflow.log_artifact(str(notes))
        back = mlflow.artifacts.download_artifacts(
            run_id=logged.info.run_id, artifact_path="notes.txt", dst_path=str(tmp_path / "down")
        )
        assert Path(back).read_text() == notes.read_text()
    finally:
        mlflow.set_tracking_uri(None)


def probe(url: str) -> int | str:
    """The status of GET ``url``, or the name of the connection error."""
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__


@dataclass
class Crash:
    run: Any  # the run, once it ended
    health: list[int | str]  # what /health answered from the crash until /ready was 200 again
    ready: list[int | str]
    survivors: list[str]  # the run containers right after the crash


def crash_mid_run(world: World, service: str) -> Crash:
    """Start a run, SIGKILL ``service`` once the run's container works on it, and watch the stack heal."""
    stack = world.stack
    contributor = world.contributor()
    contribution = contributor.contributions.submit(world.model, world.contributions.pop(0))
    run = contributor.runs.submit(world.model, [contribution.id])
    deadline = time.monotonic() + 240
    while contributor.runs.get(run.id).state == "queued":
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.5)
    restarts = stack.restarts(service)
    stack.crash(service)
    survivors = stack.run_containers()
    health: list[int | str] = []
    ready: list[int | str] = []
    deadline = time.monotonic() + 300
    while not ready or ready[-1] != 200:
        assert time.monotonic() < deadline, f"{service} never came back: /ready {ready[-5:]}"
        health.append(probe(f"{stack.url}/health"))
        ready.append(probe(f"{stack.url}/ready"))
        time.sleep(0.5)
    assert stack.restarts(service) > restarts  # healed by the restart policy, not by the test
    return Crash(wait_for_run(world, run.id), health, ready, survivors)


def assert_truthful_end(world: World, run: Any, failure_codes: set[str]) -> None:
    """Failed with its reason and nothing signed, or succeeded with an attestation that verifies."""
    if run.state == "failed":
        assert run.error and run.error.code in failure_codes and run.error.message, run.error
        assert run.attestation_id is None and run.outcome is None
    else:
        assert run.state == "succeeded" and run.attestation_id, run
        assert world.owner.attestations.verify(world.owner.attestations.get(run.attestation_id)).valid


def test_killing_mlflow_then_the_api_mid_run_ends_the_run_truthfully_and_the_stack_heals(
    world: World,
) -> None:
    mlflow_crash = crash_mid_run(world, "mlflow")
    assert set(mlflow_crash.health) == {200}  # the API itself stayed alive throughout
    assert 503 in mlflow_crash.ready  # /ready said MLflow was down while it was
    assert_truthful_end(world, mlflow_crash.run, {"mlflow_unavailable", "internal_error"})

    api_crash = crash_mid_run(world, "api")
    assert any(isinstance(answer, str) for answer in api_crash.health)  # nothing answered while it was down
    assert probe(f"{world.stack.url}/health") == 200  # and answers again (the loop ends on /ready)
    # the run's container outlived its API, as an ECS task does, and was not declared dead by the new one
    assert any(name.startswith(f"hokusai-run-{api_crash.run.id}-") for name in api_crash.survivors)
    assert_truthful_end(world, api_crash.run, {"signer_unavailable", "signing_refused"})
    print(
        f"after the MLflow crash the run {mlflow_crash.run.state}; after the API crash {api_crash.run.state}"
    )
