"""One real ``hokusai up`` (its own MLflow server, local run workers) seeded the way its users meet it:
an admin, two owners and a read-only key of the first, two wallets; owner1's MLflow experiment, run and
logged model (made through the proxy with the stock MLflow client), its datasets and model ``m1``, wallet
A's contribution and its accepted run. Shared by the authorization matrix and the attack tests.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

import hokusai
from hokusai.api_keys import generate_key
from hokusai.pipeline.demo import TARGET, prepare_demo
from hokusai.server.principal import Principal
from hokusai.siwe import SiweMessage
from tests.support.stack import UpProcess, up_env

DOMAIN = "127.0.0.1"  # hokusai up signs in for its own address


@dataclass
class Actor:
    """A test principal: how it authenticates, and what the policy knows of it."""

    name: str
    headers: dict[str, str]
    principal: Principal | None  # None: anonymous
    wallet: LocalAccount | None = None


@dataclass
class World:
    """The seeded platform: its URL, its actors and the ids of what they own."""

    url: str
    workdir: Path
    admin_key: str
    actors: dict[str, Actor] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)
    up: UpProcess | None = None

    def http(self, actor: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.actors[actor].headers, timeout=60)

    def sdk(self, actor: str) -> hokusai.Client:
        who = self.actors[actor]
        if who.wallet is not None:
            return hokusai.Client(url=self.url, wallet=who.wallet)
        return hokusai.Client(url=self.url, api_key=who.headers["Authorization"].removeprefix("Bearer "))


def sign_in(url: str, account: LocalAccount, **fields: Any) -> dict[str, str]:
    """Fresh X-ETH-* headers for ``account`` (a new nonce; message fields overridable)."""
    issued = httpx.get(f"{url}/api/v1/auth/nonce", timeout=10).json()
    now = datetime.now(UTC).replace(microsecond=0)
    values: dict[str, Any] = {
        "domain": issued["domain"],
        "address": account.address,
        "uri": issued["uri"],
        "chain_id": 1,
        "nonce": issued["nonce"],
        "issued_at": now,
        "expiration_time": now + timedelta(minutes=50),
        "statement": "Sign in to Hokusai.",
    }
    values.update(fields)
    text = SiweMessage(**values).to_text()
    signature = account.sign_message(encode_defunct(text=text)).signature.to_0x_hex()
    return {
        "X-ETH-Address": account.address,
        "X-ETH-Signature": signature,
        "X-ETH-Message": base64.b64encode(text.encode()).decode(),
    }


def _me(url: str, headers: dict[str, str]) -> Principal:
    body = httpx.get(f"{url}/api/v1/me", headers=headers, timeout=10).raise_for_status().json()
    return Principal(
        id=body["id"],
        method=body["method"],
        scopes=frozenset(body["scopes"]),
        role=body["role"],
        wallet_address=body["wallet_address"],
        key_id=body["key_id"],
    )


def _seed_mlflow(world: World, workdir: Path, model_dir: Path) -> None:
    """owner1 logs through the proxy with the stock client: an experiment, a run, a logged model."""
    key = world.actors["owner1"].headers["Authorization"].removeprefix("Bearer ")
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN")}
    os.environ.update({"MLFLOW_TRACKING_URI": f"{world.url}/mlflow", "MLFLOW_TRACKING_TOKEN": key})
    mlflow.set_tracking_uri(f"{world.url}/mlflow")
    try:
        experiment_id = mlflow.create_experiment("owner1-experiments")
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_metric("auroc", 0.9)
            mlflow.log_artifacts(str(model_dir), "model")
            logged = mlflow.sklearn.log_model(
                LogisticRegression().fit(np.array([[0.0], [1.0]]), np.array([0, 1])),
                name="small",
                pip_requirements=["scikit-learn"],
            )
        world.ids.update(experiment=experiment_id, mlflow_run=run.info.run_id, logged_model=logged.model_id)
        artifact = workdir / "notes.txt"
        artifact.write_text("owner1's notes\n")
        MlflowClient().log_artifact(run.info.run_id, str(artifact))
    finally:
        mlflow.set_tracking_uri(None)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


VERIFIER = "0x" + "de" * 20


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("authz")
    admin = generate_key(live=False)
    env = up_env(
        workdir,
        HOKUSAI_ENVIRONMENT="test",
        HOKUSAI_JOB_WORKERS="2",
        HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH=f"{admin.key_id}:{admin.key_hash}",
        HOKUSAI_RATE_LIMIT_PER_MINUTE="100000",
        HOKUSAI_AUTH_CACHE_SECONDS="0",
        HOKUSAI_DELTA_VERIFIER_ADDRESS=VERIFIER,  # mint requests are signed; no chain is needed
        HOKUSAI_WEBHOOK_ALLOW_PRIVATE="true",  # the webhook cases point at a closed loopback port
    )
    up = UpProcess(workdir / "up", env)
    try:
        up.wait_ready(180)
        url = up.api_url
        world = World(url=url, workdir=workdir, admin_key=admin.key, up=up)
        world.actors["anonymous"] = Actor("anonymous", {}, None)
        bearer = {"Authorization": f"Bearer {admin.key}"}
        world.actors["admin"] = Actor("admin", bearer, _me(url, bearer))
        with hokusai.Client(url=url, api_key=admin.key) as root:
            for name in ("owner1", "owner2"):
                key = root.keys.create(f"{name} key", ["read", "write"], principal_name=name).key
                headers = {"Authorization": f"Bearer {key}"}
                world.actors[name] = Actor(name, headers, _me(url, headers))
            owner1 = world.actors["owner1"].principal
            assert owner1 is not None
            read_only = root.keys.create("owner1 reader", ["read"], principal_id=owner1.id).key
            headers = {"Authorization": f"Bearer {read_only}"}
            world.actors["owner1_ro"] = Actor("owner1_ro", headers, _me(url, headers))
        for name in ("walletA", "walletB"):
            account = Account.create()
            headers = sign_in(url, account)
            world.actors[name] = Actor(name, headers, _me(url, headers), wallet=account)
        spec = prepare_demo(workdir / "demo")
        world.ids.update(
            base=spec.train,
            benchmark=spec.benchmark,
            contribution_file=spec.contributions[0].path,
            model_dir=Path(spec.baseline),
        )
        _seed_mlflow(world, workdir, Path(spec.baseline))
        with world.sdk("owner1") as owner:
            train, benchmark = owner.datasets.upload(spec.train), owner.datasets.upload(spec.benchmark)
            model = owner.models.register(
                "m1",
                target=TARGET,
                train=train,
                benchmark=benchmark,
                source_uri=f"runs:/{world.ids['mlflow_run']}/model",
                spec={"cooldown_seconds": 0},  # runs follow its first acceptance (else 409 cooldown)
            )
            with world.sdk("admin") as root:
                root.models.set_onchain_id("m1", 7)  # an admin binds it (an owner needs a signature)
            world.ids.update(
                train_dataset=train.id,
                benchmark_dataset=benchmark.id,
                model_experiment=model.model_dump()["experiment_id"],
            )
        rows = pd.read_csv(spec.contributions[0].path)
        half_a, half_b = workdir / "a.csv", workdir / "b.csv"
        rows.iloc[: len(rows) // 2 + 40].to_csv(half_a, index=False)
        rows.iloc[len(rows) // 2 + 40 :].to_csv(half_b, index=False)
        with world.sdk("walletA") as wallet_a:
            contribution = wallet_a.contributions.submit("m1", half_a)
            run = wallet_a.runs.wait(
                wallet_a.runs.submit("m1", [contribution.id]).id, timeout=600, interval=0.5
            )
            assert run.state == "succeeded" and run.outcome == "accepted", run.error
        with world.sdk("walletB") as wallet_b:
            world.ids["contribution_b"] = wallet_b.contributions.submit("m1", half_b).id
        world.ids.update(contribution=contribution.id, run=run.id, attestation=run.attestation_id)
        yield world
    finally:
        up.kill()
