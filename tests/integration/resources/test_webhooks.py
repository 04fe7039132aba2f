"""Acceptance events as integrators receive them: an accepted run's ``deltaone.accepted`` event, signed, at
real HTTP receivers on loopback (tests/support/receiver.py checks the signature as the docs tell
receivers to); retries with back-off and the delivery log; a receiver holding the wrong secret; who may see
and delete a webhook; SSRF refusals; and an API killed between the commit and the delivery.

One platform (real MLflow, real API, a local run worker) and one accepted run serve the module: four
webhooks are registered before the run, each with its own receiver. It allows loopback URLs
(``webhook_allow_private``, as tests must) and retries fast (0.2 s doubling, at most 3 attempts).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account

import hokusai
from hokusai.api_keys import generate_key
from hokusai.config import Settings, env_name
from hokusai.hashing import canonical_hash, canonical_json
from hokusai.schemas import Delivery
from hokusai.server.services.webhooks import event_errors, new_secret
from tests.integration.resources.conftest import DOMAIN, DemoFiles
from tests.support.mlflow import mlflow_settings
from tests.support.net import free_port
from tests.support.platform import Platform, serve_platform
from tests.support.receiver import Received, Receiver
from tests.support.stack import UpProcess

pytestmark = pytest.mark.realparts

MODEL = "hooked"
ONCHAIN_ID = 2**70 + 5
VERIFIER = "0x" + "de" * 20  # mint requests are signed for it; no chain is needed here
BASE_SECONDS = 0.2
MAX_ATTEMPTS = 3


@dataclass
class Hooked:
    """The module's platform, its owners, their webhooks and receivers, and the accepted run."""

    platform: Platform
    owner: hokusai.Client
    other: hokusai.Client
    hooks: dict[str, hokusai.client.Webhook]
    receivers: dict[str, Receiver]
    run: hokusai.client.Run


@pytest.fixture(scope="module")
def hooked(
    tmp_path_factory: pytest.TempPathFactory, mlflow_server, demo_files: DemoFiles
) -> Iterator[Hooked]:  # type: ignore[no-untyped-def]
    settings = mlflow_settings(
        tmp_path_factory.mktemp("hooked"), mlflow_url=mlflow_server.url, public_domain=DOMAIN, job_workers=1,
        webhook_allow_private=True, webhook_retry_base_seconds=BASE_SECONDS, webhook_retry_max_seconds=2.0,
        webhook_max_attempts=MAX_ATTEMPTS, delta_verifier_address=VERIFIER,
    )  # fmt: skip
    receivers = {
        "good": Receiver(),  # the model's webhook, with its secret
        "wrong": Receiver(),  # holds another secret: rejects every attempt
        "flaky": Receiver(statuses=[500, 500]),  # fails twice, then takes it
        "other": Receiver(),  # another owner's webhook for all its models
    }
    with contextlib.ExitStack() as stack:
        for receiver in receivers.values():
            stack.enter_context(receiver)
        platform = stack.enter_context(serve_platform(settings))
        admin = stack.enter_context(platform.client())
        owner, other = (
            stack.enter_context(hokusai.Client(api_key=admin.keys.create(name, ["read", "write"],
                                                                         principal_name=name).key,
                                               url=platform.url))
            for name in ("hook-owner", "stranger")
        )  # fmt: skip
        owner.models.register(MODEL, target=demo_files.target, train=demo_files.base,
                              benchmark=demo_files.benchmark, archive=demo_files.model_dir)  # fmt: skip
        admin.models.set_onchain_id(MODEL, ONCHAIN_ID)  # an admin binds it (an owner needs a signature)
        hooks = {
            "good": owner.webhooks.create(receivers["good"].url, model=MODEL),
            "wrong": owner.webhooks.create(receivers["wrong"].url),
            "flaky": owner.webhooks.create(receivers["flaky"].url),
            "other": other.webhooks.create(receivers["other"].url),
        }
        for name, receiver in receivers.items():
            receiver.secret = new_secret() if name == "wrong" else hooks[name].secret
        contribution = admin.contributions.submit(MODEL, demo_files.contribution, signer=Account.create())
        run = owner.runs.wait(owner.runs.submit(MODEL, [contribution.id]).id, timeout=600, interval=0.5)
        assert run.state == "succeeded" and run.outcome == "accepted", run.error
        yield Hooked(platform, owner, other, hooks, receivers, run)


def deliveries_when(
    client: hokusai.Client, webhook_id: str, state: str, timeout: float = 30.0
) -> list[Delivery]:
    """The webhook's deliveries once the newest is in ``state``."""
    deadline = time.monotonic() + timeout
    while True:
        found = client.webhooks.deliveries(webhook_id)
        if found and found[0].state == state:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"webhook {webhook_id}: no delivery {state} in {timeout:g}s: {found}")
        time.sleep(0.1)


def test_an_accepted_run_delivers_one_signed_event_that_the_receiver_verifies(hooked: Hooked) -> None:
    (received,) = hooked.receivers["good"].wait_for(1)
    assert received.valid and received.answered == 200
    assert received.headers["x-hokusai-event"] == "deltaone.accepted"
    assert received.headers["content-type"] == "application/json"
    event = json.loads(received.body)
    (delivery,) = deliveries_when(hooked.owner, hooked.hooks["good"].id, "delivered")
    assert received.headers["x-hokusai-delivery"] == delivery.id
    assert delivery.event_id == event["id"] and delivery.run_id == hooked.run.id
    assert delivery.attempts == 1 and [a.status for a in delivery.log] == [200]
    assert received.body == canonical_json(event)  # the signed bytes are the event's canonical JSON


def test_the_event_names_the_run_its_scores_contributors_and_the_mint_requests_hash_and_key(
    hooked: Hooked,
) -> None:
    (received,) = hooked.receivers["good"].wait_for(1)
    data = json.loads(received.body)["data"]
    run = hooked.run
    report = hooked.owner.attestations.report(run.attestation_id)
    document = hooked.owner.attestations.get(run.attestation_id)
    outcome, primary = report["outcome"], report["outcome"]["primary_metric"]
    assert (data["run_id"], data["model"], data["onchain_id"]) == (run.id, MODEL, str(ONCHAIN_ID))
    assert (data["primary_metric"], data["unit"]) == (primary, outcome["unit"])
    assert (data["gain"], data["ci_low"], data["ci_high"]) == (
        outcome["gain"],
        outcome["ci_low"],
        outcome["ci_high"],
    )
    assert 0 < data["ci_low"] <= data["gain"] <= data["ci_high"]  # an accepted DeltaOne
    assert data["baseline_score"] == report["metrics"][primary]["baseline"]
    assert data["candidate_score"] == report["metrics"][primary]["candidate"]
    assert data["delta_one_score"] == run.delta_one_score
    assert data["attestation_id"] == run.attestation_id
    assert data["attestation_hash"] == "0x" + canonical_hash(document)
    anchors = hooked.owner.runs.mint_request(run.id).message["payload"]["anchors"]
    assert (data["attestation_hash"], data["idempotency_key"]) == (
        anchors["attestationHash"],
        anchors["idempotencyKey"],
    )
    wallets = [c["wallet_address"] for c in document["contributors"]]
    assert [c["wallet"] for c in data["contributors"]] == wallets
    assert sum(c["weight_bps"] for c in data["contributors"]) == 10_000


def test_every_delivered_event_matches_the_published_json_schema(hooked: Hooked) -> None:
    bodies = [r.body for name in ("good", "flaky") for r in hooked.receivers[name].wait_for(1)]
    for body in bodies:
        assert event_errors(json.loads(body)) == []
    broken = json.loads(bodies[0])
    del broken["data"]["idempotency_key"]
    assert event_errors(broken)  # the check can fail


def test_a_failing_receiver_is_retried_with_growing_waits_until_it_takes_the_event(hooked: Hooked) -> None:
    attempts = hooked.receivers["flaky"].wait_for(3)
    assert [a.answered for a in attempts] == [500, 500, 200]
    assert len({a.headers["x-hokusai-delivery"] for a in attempts}) == 1  # one delivery, three attempts
    assert len({a.body for a in attempts}) == 1
    first_wait, second_wait = attempts[1].at - attempts[0].at, attempts[2].at - attempts[1].at
    assert first_wait >= BASE_SECONDS and second_wait >= 2 * BASE_SECONDS
    (delivery,) = deliveries_when(hooked.owner, hooked.hooks["flaky"].id, "delivered")
    assert delivery.attempts == 3 and delivery.last_status == 200 and delivery.last_error is None
    assert [a.status for a in delivery.log] == [500, 500, 200]
    assert [a.error for a in delivery.log] == [
        "the receiver answered 500",
        "the receiver answered 500",
        None,
    ]
    assert all(a.duration_ms >= 0 and a.at.endswith("Z") for a in delivery.log)


def test_a_receiver_with_another_secret_rejects_every_attempt_and_the_delivery_fails_at_the_limit(
    hooked: Hooked,
) -> None:
    attempts = hooked.receivers["wrong"].wait_for(MAX_ATTEMPTS)
    assert [(a.valid, a.answered) for a in attempts] == [(False, 401)] * MAX_ATTEMPTS
    (delivery,) = deliveries_when(hooked.owner, hooked.hooks["wrong"].id, "failed")
    assert delivery.attempts == MAX_ATTEMPTS and delivery.next_attempt_at is None
    assert [a.status for a in delivery.log] == [401] * MAX_ATTEMPTS
    assert delivery.last_error == "the receiver answered 401"


def test_another_owners_webhook_for_all_its_models_gets_nothing_of_this_model(hooked: Hooked) -> None:
    hooked.receivers["good"].wait_for(1)  # the event went out
    assert hooked.receivers["other"].received == []
    assert hooked.other.webhooks.deliveries(hooked.hooks["other"].id) == []


def test_another_owner_can_neither_list_nor_read_nor_delete_the_owners_webhooks(hooked: Hooked) -> None:
    mine = hooked.hooks["good"].id
    assert mine not in {w.id for w in hooked.other.webhooks.list()}
    for call in (hooked.other.webhooks.deliveries, hooked.other.webhooks.delete):
        with pytest.raises(hokusai.NotFound) as refused:
            call(mine)
        assert refused.value.code == "webhook_not_found"
    assert mine in {w.id for w in hooked.owner.webhooks.list()}
    listed = {w.id: w for w in hooked.owner.webhooks.list()}[mine]
    assert listed.secret is None and listed.model == MODEL  # the secret was shown once, at creation


def test_the_secret_is_stored_only_encrypted(hooked: Hooked) -> None:
    state = hooked.platform.app.state.hokusai
    data_dir = Path(hooked.platform.settings.data_dir)
    stored = b"".join(p.read_bytes() for p in data_dir.glob("hokusai.db*"))  # the database and its WAL
    for hook in hooked.hooks.values():
        assert hook.secret and hook.secret.encode() not in stored
    with sqlite3.connect(data_dir / "hokusai.db") as db:
        token = db.execute(
            "SELECT secret FROM hk_webhooks WHERE id = ?", (hooked.hooks["good"].id,)
        ).fetchone()[0]
    assert state.webhooks.cipher.decrypt(token) == hooked.hooks["good"].secret


def test_a_deleted_webhook_is_gone_from_the_list_and_its_log_stays_readable(hooked: Hooked) -> None:
    hooked.receivers["good"].wait_for(1)
    hook = hooked.owner.webhooks.create(hooked.receivers["good"].url)
    deleted = hooked.owner.webhooks.delete(hook.id)
    assert deleted.active is False
    assert hook.id not in {w.id for w in hooked.owner.webhooks.list()}
    assert hooked.owner.webhooks.deliveries(hook.id) == []
    assert hooked.owner.webhooks.delete(hook.id).active is False  # idempotent


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, mlflow_server) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    """A platform with the default settings: webhooks go to public addresses only."""
    with serve_platform(
        mlflow_settings(tmp_path_factory.mktemp("guarded"), mlflow_url=mlflow_server.url)
    ) as p:
        yield p


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:5000/api/2.0/mlflow/experiments/create", "a loopback address"),
        ("http://localhost:8001/api/v1/keys", "a loopback address"),
        ("http://169.254.169.254/latest/meta-data/iam/", "a link-local (cloud metadata) address"),
    ],
)
def test_a_webhook_to_an_internal_address_is_refused_with_400_and_the_reason(
    guarded: Platform, url: str, why: str
) -> None:
    answer = httpx.post(
        f"{guarded.url}/api/v1/webhooks", json={"url": url},
        headers={"Authorization": f"Bearer {guarded.admin_key}"},
    )  # fmt: skip
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "webhook_url_refused" and why in error["message"]
    assert error["details"] == {"url": url}


def test_an_internal_address_is_refused_again_at_delivery_and_nothing_is_sent(guarded: Platform) -> None:
    dispatcher = guarded.app.state.hokusai.webhooks  # the platform's own, with the default settings
    with Receiver() as receiver:
        attempt = dispatcher.send(receiver.url, "whsec_s", "deltaone.accepted", "d1", b"{}")
    assert attempt.status is None and not attempt.delivered
    assert attempt.error.startswith("refused: the webhook host '127.0.0.1' resolves to 127.0.0.1, a loopback")
    assert receiver.received == []


# IPv6 forms that reach an internal IPv4 address through a relay, and the address each one reaches
WRAPPED = [
    ("http://[2002:7f00:1::]/hook", "the 6to4 form of 127.0.0.1, a loopback address"),
    ("http://[2002:a9fe:a9fe::]/latest/meta-data/", "the 6to4 form of 169.254.169.254, a link-local"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "the Teredo client form of 127.0.0.1, a loopback"),
    ("http://[64:ff9b::a9fe:a9fe]/", "the NAT64 form of 169.254.169.254, a link-local"),
    ("http://[64:ff9b:1::a00:1]/", "a NAT64 local-use address"),
    ("http://[::ffff:169.254.169.254]/", "a link-local (cloud metadata) address"),
    ("http://[::127.0.0.1]/", "the IPv4-compatible form of 127.0.0.1, a loopback"),
    ("http://[::ffff:0:a00:1]/", "the IPv4-translated form of 10.0.0.1, a private address"),
]


@pytest.mark.parametrize(("url", "why"), WRAPPED)
def test_an_ipv6_address_wrapping_an_internal_ipv4_address_is_refused_with_what_it_wraps(
    guarded: Platform, url: str, why: str
) -> None:
    answer = httpx.post(
        f"{guarded.url}/api/v1/webhooks", json={"url": url},
        headers={"Authorization": f"Bearer {guarded.admin_key}"},
    )  # fmt: skip
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "webhook_url_refused" and why in error["message"], error["message"]


@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory, mlflow_server) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    """A platform where webhooks may go to private addresses (HOKUSAI_WEBHOOK_ALLOW_PRIVATE=true)."""
    settings = mlflow_settings(
        tmp_path_factory.mktemp("unguarded"), mlflow_url=mlflow_server.url, webhook_allow_private=True
    )
    with serve_platform(settings) as p:
        yield p


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34:0/hook", "https://[2606:4700::1111]:0/", "http://127.0.0.1:0/"]
)
def test_port_0_is_refused_even_where_private_addresses_are_allowed(unguarded: Platform, url: str) -> None:
    headers = {"Authorization": f"Bearer {unguarded.admin_key}"}
    answer = httpx.post(f"{unguarded.url}/api/v1/webhooks", json={"url": url}, headers=headers)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "webhook_url_refused" and "1-65535" in error["message"], error["message"]
    allowed = httpx.post(
        f"{unguarded.url}/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=headers
    )
    assert allowed.status_code == 201, allowed.text  # the setting keeps its meaning for real ports


def test_a_dns_answer_wrapping_an_internal_address_is_refused_at_delivery_and_nothing_is_sent(
    guarded: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host resolved to a public address at registration; at delivery its DNS answers the 6to4 form
    of 127.0.0.1 (a rebinding): the platform's own dispatcher checks the answer and sends nothing."""
    dispatcher = guarded.app.state.hokusai.webhooks
    with Receiver() as receiver:
        port = receiver.port
        answers = {"hooks.example": [(10, 1, 6, "", ("2002:7f00:1::", port, 0, 0))]}
        monkeypatch.setattr(dispatcher, "resolve", lambda host, *_args, **_kw: answers[host])
        attempt = dispatcher.send(
            f"http://hooks.example:{port}/hook", "whsec_s", "deltaone.accepted", "d2", b"{}"
        )
    assert attempt.status is None and not attempt.delivered
    assert attempt.error is not None
    assert attempt.error.startswith(
        "refused: the webhook host 'hooks.example' resolves to 2002:7f00:1::, the 6to4 form of 127.0.0.1"
    ), attempt.error
    assert receiver.received == []


def test_a_contributor_wallet_cannot_register_a_webhook(hooked: Hooked) -> None:
    wallet = hokusai.Client(url=hooked.platform.url, wallet=Account.create(), domain=DOMAIN)
    with wallet, pytest.raises(hokusai.Forbidden) as refused:
        wallet.webhooks.create(hooked.receivers["good"].url)
    assert refused.value.code == "role_required"


# --- restart safety: a real `hokusai serve`, killed with SIGKILL between the commit and the delivery --------


def received_one(receiver: Receiver) -> Received:
    (received,) = receiver.wait_for(1, timeout=90)  # an attempt leased when the API died waits for its lease
    return received


def test_an_event_committed_before_the_api_is_killed_arrives_exactly_as_stored_after_it_restarts(
    tmp_path: Path,
    mlflow_server,  # type: ignore[no-untyped-def]
    demo_files: DemoFiles,
) -> None:
    admin = generate_key(live=False)
    env = {
        env_name("data_dir"): str(tmp_path / "state"),
        env_name("api_port"): str(free_port()),
        env_name("mlflow_url"): mlflow_server.url,
        env_name("environment"): "test",
        env_name("job_workers"): "1",
        env_name("bootstrap_admin_key_hash"): admin.bootstrap_line,
        env_name("webhook_allow_private"): "true",
        env_name("webhook_timeout_seconds"): "1",
        env_name("webhook_retry_base_seconds"): "0.2",
        env_name("webhook_retry_max_seconds"): "0.5",
        env_name("webhook_max_attempts"): "1000",  # still pending when the API comes back
    }
    assert set(env) <= {env_name(f) for f in Settings.model_fields}
    receiver_port = free_port()  # nothing listens there until the API is dead
    first = UpProcess(tmp_path / "first", env, command="serve")
    try:
        first.wait_ready(60)
        with hokusai.Client(api_key=admin.key, url=first.api_url) as client:
            client.models.register("restarted", target=demo_files.target, train=demo_files.base,
                                   benchmark=demo_files.benchmark, archive=demo_files.model_dir)  # fmt: skip
            hook = client.webhooks.create(f"http://127.0.0.1:{receiver_port}/hook")
            contribution = client.contributions.submit(
                "restarted", demo_files.contribution, signer=Account.create()
            )
            run = client.runs.wait(client.runs.submit("restarted", [contribution.id]).id, timeout=600)
            assert run.outcome == "accepted", run.error
            (pending,) = deliveries_when(client, hook.id, "pending")
            deadline = time.monotonic() + 30
            while pending.attempts < 2 and time.monotonic() < deadline:  # tried, failed, due again
                time.sleep(0.1)
                (pending,) = client.webhooks.deliveries(hook.id)
            assert pending.last_error is not None and "ConnectError" in pending.last_error
        first.process.kill()  # SIGKILL: no shutdown handler runs
        first.wait()
    finally:
        first.kill()
    with sqlite3.connect(tmp_path / "state" / "hokusai.db") as db:
        (stored,) = [json.loads(row[0]) for row in db.execute("SELECT payload FROM hk_outbox")]
    assert stored["data"]["run_id"] == run.id

    with Receiver(port=receiver_port) as receiver:
        receiver.secret = hook.secret
        again = UpProcess(tmp_path / "again", env, command="serve")
        try:
            again.wait_ready(60)
            received = received_one(receiver)
            assert received.valid and received.answered == 200
            assert received.body == canonical_json(stored)  # exactly as stored
            with hokusai.Client(api_key=admin.key, url=again.api_url) as client:
                (delivery,) = deliveries_when(client, hook.id, "delivered")
            assert delivery.attempts > pending.attempts and delivery.log[-1].status == 200
        finally:
            again.kill()


def cli(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOKUSAI_URL": platform.url, "HOKUSAI_API_KEY": platform.admin_key}
    command = [sys.executable, "-m", "hokusai", "webhooks", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def test_the_cli_creates_lists_and_deletes_a_webhook_and_refuses_an_internal_url_in_one_line(
    hooked: Hooked, guarded: Platform
) -> None:
    made = cli(hooked.platform, "create", hooked.receivers["good"].url, "--model", MODEL, "--json")
    assert made.returncode == 0, made.stderr
    hook = json.loads(made.stdout)
    assert hook["secret"].startswith("whsec_") and "shown only this once" in made.stderr
    listed = cli(hooked.platform, "list", "--json")
    assert hook["id"] in {h["id"] for h in json.loads(listed.stdout)}
    assert json.loads(cli(hooked.platform, "deliveries", hook["id"], "--json").stdout) == []
    assert json.loads(cli(hooked.platform, "delete", hook["id"], "--json").stdout)["active"] is False

    refused = cli(guarded, "create", "http://169.254.169.254/latest/meta-data/")
    assert refused.returncode == 2 and refused.stdout == ""
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: the webhook host '169.254.169.254' resolves to 169.254.169.254, a link")
