"""Names and on-chain ids cannot be taken from their owners (issue 19, items 2 and 3), tried against the
seeded real ``hokusai up`` (see conftest) the way a hostile owner would. Each of these worked on the old
``main``: a platform model landed in an experiment its attacker made (and kept MANAGE on), a deleted
registered model's grant survived into the platform model made under its name, any owner could bind any
on-chain id, and two models registered from one file shared their lineage head.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from eth_account import Account

from hokusai.attestation.binding import sign_binding
from hokusai.errors import Conflict, Forbidden
from tests.integration.authorization.conftest import World
from tests.integration.authorization.test_attacks import _register, _tarball

pytestmark = pytest.mark.realparts
E = "/mlflow/api/2.0/mlflow"


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json().get("error", {}).get("code", "")


def test_the_proxy_keeps_the_platforms_names_from_everyone_but_admins(world: World) -> None:
    with world.http("owner2") as attacker:
        made = attacker.post(f"{E}/experiments/create", json={"name": "mine"})
        assert made.status_code == 200, made.text
        for path, body in (
            ("experiments/create", {"name": "hokusai/squatx"}),
            (
                "experiments/update",
                {"experiment_id": made.json()["experiment_id"], "new_name": "hokusai/squatx"},
            ),
            ("registered-models/create", {"name": "m1"}),  # a platform model's name
        ):
            answer = attacker.post(f"{E}/{path}", json=body)
            assert _error(answer) == (403, "mlflow_name_reserved"), (path, answer.text)
        assert attacker.post(f"{E}/registered-models/create", json={"name": "squat-rm"}).status_code == 200
        renamed = attacker.post(f"{E}/registered-models/rename", json={"name": "squat-rm", "new_name": "m1"})
        assert _error(renamed) == (403, "mlflow_name_reserved"), renamed.text


def test_a_platform_model_never_lands_in_an_experiment_someone_else_made(world: World) -> None:
    with world.http("admin") as operator:  # only an admin may make a name under hokusai/ now
        squatted = operator.post(f"{E}/experiments/create", json={"name": "hokusai/squatx"})
        assert squatted.status_code == 200, squatted.text
    with world.http("owner2") as attacker:
        made = attacker.post(f"{E}/registered-models/create", json={"name": "squatx"})
        assert made.status_code == 200, made.text
        assert attacker.request("DELETE", f"{E}/registered-models/delete", json={"name": "squatx"}).is_success
    response = _register(world, "owner1", "squatx", _tarball(world.ids["model_dir"]))
    assert _error(response) == (409, "mlflow_name_taken"), response.text
    assert response.json()["error"]["details"] == {"mlflow_object": "experiment", "name": "hokusai/squatx"}
    with world.http("admin") as admin:
        runs = admin.post(
            f"{E}/runs/search", json={"experiment_ids": [squatted.json()["experiment_id"]]}
        ).json()
        assert runs.get("runs", []) == []  # nothing of owner1's went into the experiment someone else made
        assert admin.get(f"{E}/registered-models/get", params={"name": "squatx"}).status_code == 404
    with world.http("owner1") as owner:
        again = _register(world, "owner1", "squatx-elsewhere", _tarball(world.ids["model_dir"]))
        assert again.status_code == 201, again.text  # the refusal left nothing half-made behind
        assert owner.get(f"{E}/registered-models/get", params={"name": "squatx-elsewhere"}).is_success


def test_a_deleted_registered_models_grants_do_not_survive_into_the_platform_model_of_its_name(
    world: World,
) -> None:
    with world.http("owner2") as attacker:
        assert attacker.post(f"{E}/registered-models/create", json={"name": "squaty"}).status_code == 200
        assert attacker.request("DELETE", f"{E}/registered-models/delete", json={"name": "squaty"}).is_success
    response = _register(world, "owner1", "squaty", _tarball(world.ids["model_dir"]))
    assert response.status_code == 201, response.text
    experiment_id = response.json()["experiment_id"]
    with world.http("owner2") as attacker:
        for path, params in (
            ("registered-models/get", {"name": "squaty"}),
            ("model-versions/get", {"name": "squaty", "version": "1"}),
            ("experiments/get", {"experiment_id": experiment_id}),
        ):
            assert attacker.get(f"{E}/{path}", params=params).status_code == 403, path
        denied = attacker.request("DELETE", f"{E}/registered-models/delete", json={"name": "squaty"})
        assert denied.status_code == 403
    with world.http("owner1") as owner:
        assert owner.get(f"{E}/registered-models/get", params={"name": "squaty"}).status_code == 200
        permissions = owner.get(
            "/api/v1/permissions", params={"resource_type": "registered_model", "resource_id": "squaty"}
        )
        holders = {p["principal_id"] for p in permissions.raise_for_status().json()["permissions"]}
        assert holders == {world.actors["owner1"].principal.id}  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def twin(world: World) -> dict[str, object]:
    """owner2's model registered from the very file m1 was registered from."""
    with world.sdk("owner2") as owner2:
        train, bench = (
            owner2.datasets.upload(world.ids["base"]),
            owner2.datasets.upload(world.ids["benchmark"]),
        )
        model = owner2.models.register(
            "twin", target="diagnosis_benign", train=train, benchmark=bench, archive=world.ids["model_dir"]
        )
    return model.model_dump()


def test_two_models_registered_from_one_file_never_share_a_lineage_head(
    world: World, twin: dict[str, object]
) -> None:
    with world.sdk("owner1") as owner:  # m1's head moved with its accepted run: a third model of the file
        third = owner.models.register(
            "twin-of-twin", target="diagnosis_benign", train=world.ids["base"],
            benchmark=world.ids["benchmark"], archive=world.ids["model_dir"],
        ).model_dump()  # fmt: skip
    assert twin["model_hash"] == third["model_hash"]  # the same estimator file
    assert twin["weight_head"] != third["weight_head"]  # yet each head names its model


def test_an_owner_cannot_bind_another_models_onchain_id_or_any_id_unsigned(
    world: World, twin: dict[str, object]
) -> None:
    with world.http("owner2") as attacker:
        for value in ("7", "12"):  # m1's id (bound by an admin), and a free one
            answer = attacker.patch("/api/v1/models/twin", json={"onchain_id": value})
            assert _error(answer) == (403, "onchain_id_unsigned"), answer.text
        assert attacker.get("/api/v1/models/twin").json()["onchain_id"] is None
    wallet, other = Account.create(), Account.create()
    with world.sdk("owner2") as owner2:
        with pytest.raises(Conflict) as taken:
            owner2.models.set_onchain_id("twin", 7, signer=wallet)
        assert taken.value.code == "onchain_id_taken"
        for signer, message in (
            (other, owner2.models.onchain_binding("twin", 12)),  # signed by another wallet than claimed
            (wallet, owner2.models.onchain_binding("m1", 12)),  # signed for another platform model
        ):
            with pytest.raises(Forbidden) as forged:
                owner2.models.set_onchain_id(
                    "twin", 12, wallet=wallet.address, signature=sign_binding(signer, message)
                )
            assert forged.value.code == "bad_signature"
        bound = owner2.models.set_onchain_id("twin", 12, signer=wallet).model_dump()
        assert (bound["onchain_id"], bound["onchain_wallet"]) == ("12", wallet.address)
    with world.sdk("owner1") as owner1, pytest.raises(Conflict):
        owner1.models.set_onchain_id("m1", 12, signer=Account.create())  # 12 names twin now
    with world.sdk("admin") as admin:
        with pytest.raises(Conflict):
            admin.models.set_onchain_id("twin", 7)  # an admin too: 7 names m1
        rebound = admin.models.set_onchain_id("twin", 13).model_dump()
        assert (rebound["onchain_id"], rebound["onchain_wallet"]) == ("13", None)
        assert admin.models.set_onchain_id("twin", None).model_dump()["onchain_id"] is None
    with world.http("owner1") as owner:
        assert owner.get("/api/v1/models/m1").json()["onchain_id"] == "7"


def test_an_owner_binds_an_onchain_id_from_the_command_line_only_with_the_wallets_signature(
    world: World, twin: dict[str, object]
) -> None:
    with world.sdk("admin") as admin:
        admin.models.set_onchain_id("twin", None)
    wallet = Account.create()
    environment = {
        **os.environ,
        "HOKUSAI_URL": world.url,
        "HOKUSAI_API_KEY": world.actors["owner2"].headers["Authorization"].removeprefix("Bearer "),
        "HOKUSAI_WALLET_KEY": wallet.key.hex(),
    }

    def hokusai(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "hokusai", "models", "set-onchain-id", "twin", *args]
        return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)

    unsigned = hokusai("21")
    assert unsigned.returncode == 2 and "signed by the wallet" in unsigned.stderr, unsigned.stderr
    assert "Traceback" not in unsigned.stderr
    signed = hokusai("21", "--wallet", "--json")
    assert signed.returncode == 0, signed.stderr
    bound = json.loads(signed.stdout)
    assert (bound["onchain_id"], bound["onchain_wallet"]) == ("21", wallet.address)
    assert wallet.key.hex() not in signed.stdout + signed.stderr
    assert hokusai("--unbind", "--json").returncode == 0
