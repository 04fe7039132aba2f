"""Bad input to the resource endpoints: each gets a 4xx in the error shape, and nothing is half-stored."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import httpx
import pandas as pd
import pytest
from eth_account import Account
from sklearn.linear_model import LinearRegression

from hokusai.errors import (
    Conflict,
    Forbidden,
    HokusaiError,
    InvalidData,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
)
from hokusai.tracking.models import save_model_dir
from tests.integration.resources.conftest import DOMAIN, DemoFiles
from tests.support.platform import Platform

pytestmark = pytest.mark.realparts


@pytest.fixture(scope="module")
def model(platform: Platform, demo_files: DemoFiles) -> str:
    """A model registered by the admin from an uploaded model directory archive."""
    with platform.client() as admin:
        admin.models.register(
            "bad-input-model",
            target=demo_files.target,
            train=demo_files.base,
            benchmark=demo_files.benchmark,
            archive=demo_files.model_dir,
        )
    return "bad-input-model"


def stored_blobs(platform: Platform) -> set[str]:
    root = Path(str(platform.settings.pipeline_data_root)) / "sha256"
    return {p.name for p in root.glob("*")} if root.exists() else set()


def leftover_uploads(platform: Platform) -> list[Path]:
    return list((platform.settings.data_dir / "tmp" / "uploads").glob("*"))


def error_of(call) -> HokusaiError:  # type: ignore[no-untyped-def]
    with pytest.raises(HokusaiError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
    ],
)
def test_a_file_that_is_not_data_is_refused_and_not_stored(
    platform: Platform, model: str, tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    before = stored_blobs(platform)
    with platform.client() as admin:
        error = error_of(lambda: admin.contributions.submit(model, path, signer=Account.create()))
    assert isinstance(error, InvalidInput)
    assert name in error.message and "/tmp/" not in error.message.replace(str(tmp_path), "")
    assert stored_blobs(platform) == before and leftover_uploads(platform) == []


def test_a_file_over_the_limit_is_413_and_not_stored(platform: Platform, model: str, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" + b"1,2\n" * ((6 << 20) // 4))
    before = stored_blobs(platform)
    with platform.client() as admin:
        error = error_of(lambda: admin.contributions.submit(model, big, signer=Account.create()))
    assert isinstance(error, PayloadTooLarge)
    assert stored_blobs(platform) == before and leftover_uploads(platform) == []


def test_a_csv_with_the_wrong_columns_is_422_and_not_stored(
    platform: Platform, model: str, demo_files: DemoFiles, tmp_path: Path
) -> None:
    frame = (
        pd.read_csv(demo_files.contribution)
        .drop(columns=["mean_radius"])
        .rename(columns={"mean_area": "area"})
    )
    wrong = tmp_path / "wrong.csv"
    frame.to_csv(wrong, index=False)
    before = stored_blobs(platform)
    with platform.client() as admin:
        error = error_of(lambda: admin.contributions.submit(model, wrong, signer=Account.create()))
    assert isinstance(error, InvalidData) and error.code == "validation_failed"
    assert "mean_radius" in error.message and "schema.required" in error.message
    assert stored_blobs(platform) == before


def test_an_extra_column_is_refused_at_upload_with_the_reason(
    platform: Platform, model: str, demo_files: DemoFiles, tmp_path: Path
) -> None:
    """One contract: the upload checks the benchmark spec's contribution schema, which the run uses too
    (it used to accept the file, 201, and the run then failed it)."""
    frame = pd.read_csv(demo_files.contribution).assign(favourite_colour="blue")
    extra = tmp_path / "extra.csv"
    frame.to_csv(extra, index=False)
    before = stored_blobs(platform)
    with platform.client() as admin:
        error = error_of(lambda: admin.contributions.submit(model, extra, signer=Account.create()))
        spec = admin.benchmarks.current(model)
    assert isinstance(error, InvalidData) and error.code == "validation_failed"
    assert "'favourite_colour'" in error.message and "schema.extra" in error.message, error.message
    assert spec.spec["contribution_schema"]["allow_extra_columns"] is False
    assert stored_blobs(platform) == before


def test_the_same_bytes_twice_are_the_same_contribution(
    platform: Platform, model: str, demo_files: DemoFiles
) -> None:
    wallet = Account.create()
    with platform.client(wallet=wallet, domain=DOMAIN) as contributor:
        first = contributor.contributions.submit(model, demo_files.contribution)
        again = contributor.contributions.submit(model, demo_files.contribution)
    assert again.id == first.id
    with platform.client(wallet=Account.create(), domain=DOMAIN) as other:
        error = error_of(lambda: other.contributions.submit(model, demo_files.contribution))
    assert isinstance(error, Conflict) and error.code == "already_contributed"


def test_a_key_without_a_wallet_cannot_contribute(
    platform: Platform, model: str, demo_files: DemoFiles
) -> None:
    with platform.client() as admin:
        key = admin.keys.create("owner key", ["read", "write"], principal_name="someone").key
    with platform.client(api_key=key) as owner:
        error = error_of(lambda: owner.contributions.submit(model, demo_files.contribution))
    assert isinstance(error, Forbidden) and error.code == "wallet_required"


def test_runs_on_missing_things_are_404(platform: Platform, model: str) -> None:
    with platform.client() as admin:
        assert error_of(lambda: admin.runs.submit("no-such-model", ["x"])).code == "model_not_found"
        assert (
            error_of(lambda: admin.runs.submit(model, ["no-such-contribution"])).code
            == "contribution_not_found"
        )
        assert isinstance(error_of(lambda: admin.runs.get("nope")), NotFound)


def test_another_wallets_contribution_is_not_even_visible_to_a_stranger(
    platform: Platform, model: str, demo_files: DemoFiles, tmp_path: Path
) -> None:
    owner_wallet, intruder = Account.create(), Account.create()
    data = tmp_path / "rows.csv"
    pd.read_csv(demo_files.contribution).head(150).to_csv(data, index=False)
    with platform.client(wallet=owner_wallet, domain=DOMAIN) as contributor:
        contribution = contributor.contributions.submit(model, data)
    with platform.client(wallet=intruder, domain=DOMAIN) as other:
        error = error_of(lambda: other.runs.submit(model, [contribution.id]))
        assert isinstance(error, NotFound) and error.code == "contribution_not_found"
        assert error_of(lambda: other.contributions.get(contribution.id)).code == "contribution_not_found"


@pytest.mark.parametrize("name", ["team/model", "../etc", "", "a" * 129])
def test_a_bad_model_name_is_refused(
    platform: Platform, model: str, demo_files: DemoFiles, name: str
) -> None:
    with platform.client() as admin:
        dataset = admin.datasets.upload(demo_files.base)
        body = {"name": name, "target_column": demo_files.target, "train_dataset_id": dataset.id,
                "benchmark_dataset_id": dataset.id, "source_uri": "runs:/abc/model"}  # fmt: skip
        response = httpx.post(f"{platform.url}/api/v1/models", json=body,
                              headers={"Authorization": f"Bearer {platform.admin_key}"})  # fmt: skip
    assert response.status_code in (400, 422)
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_a_model_that_is_not_a_classifier_is_refused(
    platform: Platform, demo_files: DemoFiles, tmp_path: Path
) -> None:
    frame = pd.read_csv(demo_files.base)
    features = frame.drop(columns=[demo_files.target])
    save_model_dir(LinearRegression().fit(features, frame[demo_files.target]), tmp_path / "regressor")
    with platform.client() as admin:
        error = error_of(
            lambda: admin.models.register(
                "regressor",
                target=demo_files.target,
                train=demo_files.base,
                benchmark=demo_files.benchmark,
                archive=tmp_path / "regressor",
            )
        )
    assert error.code == "not_a_classifier"


def test_a_model_archive_that_escapes_its_folder_is_refused(
    platform: Platform, demo_files: DemoFiles, tmp_path: Path
) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = b"flavors: {}\n"
        info = tarfile.TarInfo("../../MLmodel")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with platform.client() as admin:
        error = error_of(
            lambda: admin.models.register(
                "evil",
                target=demo_files.target,
                train=demo_files.base,
                benchmark=demo_files.benchmark,
                archive=archive,
            )
        )
    assert error.code == "bad_archive"
    assert not (platform.settings.data_dir.parent / "MLmodel").exists()


def test_a_model_is_found_by_its_name_or_by_the_id_in_responses(platform: Platform, model: str) -> None:
    with platform.client() as admin:
        by_name = admin.models.get(model)
        assert admin.models.get(by_name.id).name == model
        assert isinstance(error_of(lambda: admin.models.get("0" * 32)), NotFound)
