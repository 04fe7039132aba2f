"""Each attack that worked against the platform before its authorization layer, tried again as an attacker
would, against the seeded real ``hokusai up`` (see conftest). Every one of these passed on the old ``main``
(code ran, objects were rewritten, reads were global); here each must be refused, and leave nothing behind.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from tests.integration.authorization.conftest import World

pytestmark = pytest.mark.realparts
E = "/mlflow/api/2.0/mlflow"


class _Payload:
    """Unpickling this runs a shell command (the classic ``__reduce__`` attack)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _tarball(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(directory), arcname="model")
    return buffer.getvalue()


def _evil_model(world: World, tmp_path: Path, marker: Path, claimed_format: str) -> bytes:
    """The demo's MLflow model directory with its estimator replaced by a pickle payload."""
    directory = tmp_path / f"evil-{claimed_format}"
    shutil.copytree(world.ids["model_dir"], directory)
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    flavor = mlmodel["flavors"]["sklearn"]
    (directory / flavor["pickled_model"]).unlink()
    flavor.update(pickled_model="model.pkl", serialization_format=claimed_format)
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    (directory / "model.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    return _tarball(directory)


def _fields(world: World, name: str) -> dict[str, str]:
    """A registration of ``name`` on owner1's training data and benchmark."""
    return {
        "name": name,
        "target_column": "diagnosis_benign",
        "train_dataset_id": world.ids["train_dataset"],
        "benchmark_dataset_id": world.ids["benchmark_dataset"],
    }


def _register(world: World, actor: str, name: str, archive: bytes) -> httpx.Response:
    fields = _fields(world, name)
    with world.http(actor) as client:
        return client.post(
            "/api/v1/models", data=fields, files={"archive": ("model.tar.gz", archive, "application/gzip")}
        )


@pytest.mark.parametrize("claimed_format", ["pickle", "cloudpickle", "skops"])
def test_a_pickle_payload_in_an_uploaded_model_never_runs(
    world: World, tmp_path: Path, claimed_format: str
) -> None:
    marker = tmp_path / f"pwned-{claimed_format}"
    response = _register(
        world, "owner1", f"evil-{claimed_format}", _evil_model(world, tmp_path, marker, claimed_format)
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("pickle_refused", "bad_model_file")
    time.sleep(0.5)
    assert not marker.exists()


def test_a_trusted_owners_pickle_is_registered_without_the_api_loading_it(
    world: World, tmp_path: Path
) -> None:
    owner1 = world.actors["owner1"].principal
    assert owner1 is not None
    marker = tmp_path / "pwned-trusted"
    with world.http("admin") as admin:
        assert (
            admin.patch(f"/api/v1/principals/{owner1.id}", json={"trusted_pickle": True}).status_code == 200
        )
    try:
        response = _register(
            world, "owner1", "trusted-pickle", _evil_model(world, tmp_path, marker, "pickle")
        )
    finally:
        with world.http("admin") as admin:
            admin.patch(f"/api/v1/principals/{owner1.id}", json={"trusted_pickle": False})
    assert response.status_code == 201, response.text
    assert response.json()["model_format"] == "pickle"
    time.sleep(0.5)
    assert not marker.exists()  # the API process never deserialised it (only a run worker may)


def test_a_skops_file_that_holds_no_estimator_is_a_clear_400(world: World, tmp_path: Path) -> None:
    import skops.io

    directory = tmp_path / "not-an-estimator"
    shutil.copytree(world.ids["model_dir"], directory)
    (directory / "model.skops").write_bytes(skops.io.dumps({"weights": [1, 2, 3]}))
    response = _register(world, "owner1", "not-an-estimator", _tarball(directory))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "not_a_classifier"


def _baseline_artifact(world: World) -> str:
    with world.http("admin") as admin:
        version = admin.get(f"{E}/model-versions/get", params={"name": "m1", "version": "1"}).json()
    run_id = version["model_version"]["run_id"]
    return f"{world.ids['model_experiment']}/{run_id}/artifacts/baseline/model.skops"


@pytest.mark.parametrize(
    ("actor", "code"), [("walletB", "role_required"), ("owner2", "mlflow_permission_denied")]
)
def test_another_principal_cannot_replace_an_owners_baseline(world: World, actor: str, code: str) -> None:
    path = f"/mlflow/api/2.0/mlflow-artifacts/artifacts/{_baseline_artifact(world)}"
    with world.http(actor) as client:
        written = client.put(path, content=pickle.dumps(_Payload(Path("/tmp/never"))))
        read = client.get(path)
    assert written.status_code == 403 and written.json()["error"]["code"] == code
    assert written.json()["error_code"] == "PERMISSION_DENIED"  # what the MLflow client shows
    assert read.status_code == 403  # nor download it


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "registered-models/update", {"name": "m1", "description": "owned by someone else now"}),
        (
            "POST",
            "model-versions/set-tag",
            {"name": "m1", "version": "1", "key": "hokusai.role", "value": "x"},
        ),
        ("POST", "registered-models/alias", {"name": "m1", "alias": "champion", "version": "1"}),
        ("POST", "model-versions/create", {"name": "m1", "source": "mlflow-artifacts:/0/x/artifacts/model"}),
        ("DELETE", "registered-models/delete", {"name": "m1"}),
    ],
)
def test_another_owner_cannot_rewrite_an_owners_registry_objects(
    world: World, method: str, path: str, body: dict[str, str]
) -> None:
    with world.http("owner2") as client:
        response = client.request(method, f"{E}/{path}", json=body)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "mlflow_permission_denied"


def test_searches_show_only_what_the_caller_may_read(world: World) -> None:
    with world.http("owner2") as owner2, world.http("owner1") as owner1:
        theirs = owner2.post(
            "/mlflow/ajax-api/2.0/mlflow/experiments/search", json={"max_results": 1000}
        ).json()
        mine = owner1.post(
            "/mlflow/ajax-api/2.0/mlflow/experiments/search", json={"max_results": 1000}
        ).json()
        models = owner2.get(f"{E}/registered-models/search").json()
        versions = owner2.get(f"{E}/model-versions/search", params={"filter": "name='m1'"}).json()
    assert world.ids["experiment"] not in {e["experiment_id"] for e in theirs.get("experiments", [])}
    assert world.ids["experiment"] in {e["experiment_id"] for e in mine["experiments"]}
    assert "m1" not in {m["name"] for m in models.get("registered_models", [])}
    assert versions.get("model_versions", []) == []


@pytest.mark.parametrize(
    "source",
    [
        "/etc",  # a server path that exists
        "/no/such/dir",  # and one that does not: the same answer, no existence oracle
        "file:///etc",
        "runs:/0123abcd/x' OR name != '",
        "models:/m1/1 OR 1=1",
    ],
)
def test_source_uri_is_never_a_server_path_nor_reaches_an_mlflow_filter(world: World, source: str) -> None:
    body = {**_fields(world, "by-uri"), "source_uri": source}
    with world.http("owner1") as client:
        response = client.post("/api/v1/models", json=body)
    # refused by the published schema's source_uri pattern, before any service reads it
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["details"][0]["location"] == "body.source_uri"


def test_a_logged_model_of_another_owner_cannot_be_registered(world: World) -> None:
    with world.sdk("owner2") as owner2:
        train, bench = (
            owner2.datasets.upload(world.ids["base"]),
            owner2.datasets.upload(world.ids["benchmark"]),
        )
    for source in (f"runs:/{world.ids['mlflow_run']}/model", "runs:/0123456789abcdef/model", "models:/m1/1"):
        body = {
            "name": "stolen",
            "target_column": "diagnosis_benign",
            "train_dataset_id": train.id,
            "benchmark_dataset_id": bench.id,
            "source_uri": source,
        }
        with world.http("owner2") as client:
            response = client.post("/api/v1/models", json=body)
        assert response.status_code == 404, (source, response.text)
        assert response.json()["error"]["code"] == "source_not_found"


def test_another_owners_training_data_cannot_be_used(world: World) -> None:
    response = _register(world, "owner2", "data-thief", _tarball(world.ids["model_dir"]))  # owner1's datasets
    assert response.status_code == 404 and response.json()["error"]["code"] == "dataset_not_found"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/mlflow/api/3.0/mlflow/gateway/secrets/create", {"secret_name": "x", "secret_value": "y"}),
        ("GET", "/mlflow/api/3.0/mlflow/gateway/secrets/list", None),
        ("POST", "/mlflow/api/3.0/mlflow/prompt-optimization/jobs", {}),
        ("POST", "/mlflow/ajax-api/2.0/mlflow/gateway-proxy", {}),
        ("GET", "/mlflow/ajax-api/3.0/mlflow/assistant/config", None),
        ("POST", "/mlflow/graphql", {"query": 'mutation { testMutation(inputString: "x") { output } }'}),
    ],
)
def test_mlflow_endpoints_outside_the_allowlist_are_refused_to_non_admins(
    world: World, method: str, path: str, body: dict[str, str] | None
) -> None:
    with world.http("owner1") as client:
        response = client.request(method, path, json=body)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] in ("role_required", "mlflow_permission_denied")


def test_a_non_admin_cannot_point_an_experiment_into_another_ones_storage(world: World) -> None:
    body = {"name": "squatter", "artifact_location": f"mlflow-artifacts:/{world.ids['experiment']}"}
    with world.http("owner2") as client:
        response = client.post(f"{E}/experiments/create", json=body)
    assert response.status_code == 403 and response.json()["error"]["code"] == "artifact_location_reserved"


def test_a_wallet_reads_nothing_of_another_wallet(world: World) -> None:
    a = world.actors["walletA"].wallet
    assert a is not None
    with world.http("walletB") as b:
        for path in (
            f"/api/v1/contributions/{world.ids['contribution']}",
            f"/api/v1/runs/{world.ids['run']}",
            f"/api/v1/contributors/{a.address}/impact",
        ):
            assert b.get(path).status_code == 404, path
        listed = b.get("/api/v1/models/m1/contributions").json()["contributions"]
        lineage = b.get("/api/v1/models/m1/lineage").json()
    b_address = world.actors["walletB"].wallet.address  # type: ignore[union-attr]
    assert world.ids["contribution_b"] in {c["id"] for c in listed}
    assert {c["contributor_address"] for c in listed} == {b_address}  # its own only
    assert all(v["role"] in ("baseline", "improvement") for v in lineage["versions"])  # what owners publish


def test_json_bodies_over_the_limit_are_refused_with_413(world: World) -> None:
    huge = {"model": "m1", "contributions": ["x"], "padding": "x" * (2 << 20)}
    with world.http("walletA") as client:
        declared = client.post("/api/v1/runs", json=huge)
        chunked = client.post(
            "/api/v1/runs",
            content=iter([json.dumps(huge).encode()]),
            headers={"Content-Type": "application/json"},
        )
    for response in (declared, chunked):
        assert response.status_code == 413, response.text[:200]
        assert response.json()["error"]["code"] == "payload_too_large"


def test_a_small_archive_that_unpacks_past_the_limit_is_refused_with_413(
    world: World, tmp_path: Path
) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model/MLmodel", "flavors: {}\n")
        with archive.open("model/zeros.bin", "w") as handle:
            for _ in range(300):
                handle.write(bytes(1 << 20))
    assert len(bomb.getvalue()) < 1 << 20
    archive = {"archive": ("model.zip", bomb.getvalue(), "application/zip")}
    with world.http("owner1") as client:
        response = client.post("/api/v1/models", data=_fields(world, "bomb"), files=archive)
    assert response.status_code == 413 and response.json()["error"]["code"] == "archive_too_large"


def _wait(world: World, actor: str, run_id: str) -> dict[str, Any]:
    with world.sdk(actor) as client:
        return client.runs.wait(run_id, timeout=600, interval=0.5).model_dump()


def test_a_baseline_changed_in_storage_fails_the_run_with_model_tampered(
    world: World, tmp_path: Path
) -> None:
    with world.sdk("owner2") as owner2:
        train, bench = (
            owner2.datasets.upload(world.ids["base"]),
            owner2.datasets.upload(world.ids["benchmark"]),
        )
        model = owner2.models.register(
            "tamper-me",
            target="diagnosis_benign",
            train=train,
            benchmark=bench,
            archive=world.ids["model_dir"],
        )
    with world.sdk("walletA") as wallet:
        contribution = wallet.contributions.submit("tamper-me", world.ids["contribution_file"])
    with world.http("admin") as admin:
        version = admin.get(f"{E}/model-versions/get", params={"name": "tamper-me", "version": "1"}).json()
    run_id = version["model_version"]["run_id"]
    stored = world.workdir / "state" / "mlartifacts" / model.model_dump()["experiment_id"] / run_id
    model_file = stored / "artifacts" / "baseline" / "model.skops"
    assert model_file.is_file()
    import skops.io
    from sklearn.dummy import DummyClassifier

    frame = pd.read_csv(world.ids["base"])
    swapped = DummyClassifier().fit(frame.drop(columns="diagnosis_benign"), frame["diagnosis_benign"])
    model_file.write_bytes(skops.io.dumps(swapped))  # what someone with storage access could do
    with world.sdk("owner2") as owner2:
        run = owner2.runs.submit("tamper-me", [contribution.id])
    final = _wait(world, "owner2", run.id)
    assert final["state"] == "failed" and final["error"]["code"] == "model_tampered", final["error"]
    assert final["attestation_id"] is None


def test_evaluating_a_contribution_again_adds_nothing_to_impact_or_lineage(world: World) -> None:
    a = world.actors["walletA"].wallet
    assert a is not None
    with world.sdk("walletA") as wallet:
        before = wallet.contributors.impact(a.address)
    with world.sdk("owner1") as owner:
        first_lineage = owner.models.lineage("m1")
    with world.http("owner1") as client:
        spec = client.post("/api/v1/benchmarks", json={"model": "m1", "seed": 7, "cooldown_seconds": 0})
    assert spec.status_code == 201, spec.text  # a run used version 1: the seed goes in version 2
    assert spec.json()["version"] >= 2 and spec.json()["current"] and spec.json()["spec"]["seed"] == 7
    with world.sdk("owner1") as owner:
        again = owner.runs.submit("m1", [world.ids["contribution"]], idempotency_key="second-seed")
    final = _wait(world, "owner1", again.id)
    assert final["state"] == "succeeded"  # against the head its first acceptance made: nothing new to add
    assert final["options"]["seed"] == 7  # the spec's seed, set by the model's owner
    with world.sdk("walletA") as wallet:
        after = wallet.contributors.impact(a.address)
    with world.sdk("owner1") as owner:
        lineage = owner.models.lineage("m1")
    assert after.runs == before.runs + 1  # recorded ...
    assert after.weighted_delta_one == before.weighted_delta_one  # ... but counts once
    assert lineage.cumulative_improvement_pp == first_lineage.cumulative_improvement_pp
    entry = next(v for v in lineage.versions if v.run_id == again.id)
    assert entry.counted is False


def test_a_contributor_cannot_choose_the_seed_or_the_rules(world: World) -> None:
    with world.http("walletA") as client:
        run = {"model": "m1", "contributions": [world.ids["contribution"]]}
        seeded = client.post("/api/v1/runs", json={**run, "options": {"seed": 3}})
        laxer = client.post(
            "/api/v1/runs", json={**run, "options": {"threshold": 0, "min_benchmark_rows": 1}}
        )
    assert seeded.status_code == 422  # there is no such option: the seed is the benchmark spec's
    assert laxer.status_code == 403 and laxer.json()["error"]["code"] == "options_reserved"


def test_every_change_leaves_an_audit_row(world: World) -> None:
    with world.http("admin") as admin:
        events = {e["event"] for e in admin.get("/api/v1/audit", params={"limit": 1000}).json()["events"]}
    for event in (
        "model_registered",
        "dataset_uploaded",
        "contribution_submitted",
        "run_submitted",
        "run_finished",
        "attestation_signed",
        "mlflow_write",
        "permission_set",
        "key_created",
    ):
        assert event in events, event
