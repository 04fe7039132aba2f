"""Contributors' rights against a real ``hokusai up`` whose pipeline data is on S3 (a moto server, versioned
bucket) and whose run folders, download cache and MLflow artifacts are local folders: export, withdrawal that
leaves no byte of the raw data anywhere (every S3 object version and every local file is searched for a marker
planted in the rows), what stays after an accepted run, idempotence, another wallet refused, and retention's
dry run and sweep."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pandas as pd
import pytest
from eth_account import Account

import hokusai
from hokusai.api_keys import generate_key
from hokusai.errors import Conflict, Forbidden, NotFound
from hokusai.pipeline.demo import TARGET, prepare_demo
from tests.integration.authorization.conftest import sign_in
from tests.support.stack import UpProcess, up_env

pytestmark = pytest.mark.realparts
MARKERS = ("987.654321123", "876.543211234", "765.432112345")  # one per contribution, in its first row
DATA_CELL = re.compile(
    r'<td class="data" data-contribution="(\w+)" data-state="(\w+)"(?: data-reason="(\w+)")?>(.*?)</td>', re.S
)


@dataclass
class Rights:
    url: str
    state: Path
    bucket: str
    s3: Any
    admin: str
    owner: str
    wallets: dict[str, Any]
    files: dict[str, Path]
    ids: dict[str, Any] = field(default_factory=dict)

    def sdk(self, who: str) -> hokusai.Client:
        if who in self.wallets:
            return hokusai.Client(url=self.url, wallet=self.wallets[who])
        return hokusai.Client(url=self.url, api_key=self.admin if who == "admin" else self.owner)

    def holders(self, marker: str) -> list[str]:
        """Every stored copy of ``marker``: S3 object versions (all of them) and files under the data dir."""
        needle, found = marker.encode(), []
        listing = self.s3.list_object_versions(Bucket=self.bucket)
        for version in listing.get("Versions", []):
            body = self.s3.get_object(Bucket=self.bucket, Key=version["Key"], VersionId=version["VersionId"])
            if needle in body["Body"].read():
                found.append(f"s3://{self.bucket}/{version['Key']}@{version['VersionId']}")
        for path in self.state.rglob("*"):
            if path.is_file() and needle in path.read_bytes():
                found.append(str(path))
        return found


def shown(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")  # the pages' format of a time


def page_data(rights: Rights, who: str = "A") -> dict[str, tuple[str, str | None, str]]:
    """The contributor page's raw-data cells (what the wallet sees), by contribution: state, reason, text."""
    wallet = rights.wallets[who]
    answer = httpx.get(
        f"{rights.url}/ui/contributors/{wallet.address}", headers=sign_in(rights.url, wallet), timeout=30
    ).raise_for_status()
    return {
        cid: (state, reason or None, " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split()))
        for cid, state, reason, body in DATA_CELL.findall(answer.text)
    }


@pytest.fixture(scope="module")
def rights(tmp_path_factory: pytest.TempPathFactory, moto_server) -> Iterator[Rights]:  # type: ignore[no-untyped-def]
    workdir = tmp_path_factory.mktemp("rights")
    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1")
    bucket = "hokusai-rights"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    admin = generate_key(live=False)
    state = workdir / "state"
    env = up_env(
        workdir,
        HOKUSAI_ENVIRONMENT="test",
        HOKUSAI_JOB_WORKERS="1",
        HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH=f"{admin.key_id}:{admin.key_hash}",
        HOKUSAI_RATE_LIMIT_PER_MINUTE="100000",
        HOKUSAI_AUTH_CACHE_SECONDS="0",
        HOKUSAI_PIPELINE_DATA_ROOT=f"s3://{bucket}/contributions",
        HOKUSAI_S3_ENDPOINT_URL=moto_server.endpoint,
        HOKUSAI_RETENTION_SWEEP_SECONDS="0",  # the test sweeps through the admin endpoint
    )
    up = UpProcess(workdir / "up", env)
    try:
        up.wait_ready(180)
        spec = prepare_demo(workdir / "demo")
        rows = pd.read_csv(spec.contributions[0].path)
        files = {}
        for i, (name, part) in enumerate(
            (("used", rows), ("unused", rows.iloc[::2]), ("kept", rows.iloc[1::2]))
        ):
            part = part.copy()
            part.iloc[0, 0] = float(MARKERS[i])
            files[name] = workdir / f"{name}.csv"
            part.to_csv(files[name], index=False)
        with hokusai.Client(url=up.api_url, api_key=admin.key) as root:
            owner = root.keys.create("owner", ["read", "write"], principal_name="owner").key
        world = Rights(
            up.api_url, state, bucket, s3, admin.key, owner,
            {"A": Account.create(), "B": Account.create()}, files,
        )  # fmt: skip
        with world.sdk("owner") as client:
            client.models.register(
                "rights",
                target=TARGET,
                train=spec.train,
                benchmark=spec.benchmark,
                archive=Path(spec.baseline),
            )
        with world.sdk("A") as wallet:
            for name in files:
                world.ids[name] = wallet.contributions.submit("rights", files[name]).id
            run = wallet.runs.wait(
                wallet.runs.submit("rights", [world.ids["used"]]).id, timeout=300, interval=0.5
            )
            assert run.state == "succeeded" and run.outcome == "accepted", run.error
            world.ids.update(run=run.id, attestation=run.attestation_id, version=run.registered_version)
        yield world
    finally:
        up.kill()


def test_the_marker_search_finds_stored_raw_data(rights: Rights) -> None:
    assert any(h.startswith("s3://") for h in rights.holders(MARKERS[1]))  # the search can see a copy


def test_export_holds_the_wallets_files_runs_payouts_and_audit_rows(rights: Rights) -> None:
    with rights.sdk("A") as wallet:
        path = wallet.export(rights.state.parent / "export.zip")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        used = f"contributions/{rights.ids['used']}"
        assert {f"{used}/contribution.json", f"{used}/used.csv", "payouts.json", "audit.jsonl"} <= names
        assert archive.read(f"{used}/used.csv") == rights.files["used"].read_bytes()
        terms = json.loads(archive.read(f"{used}/contribution.json"))["terms"]  # what the wallet signed
        assert terms["hash"].startswith("0x") and terms["signature"] and terms["typed_data"]["message"]
        assert f"runs/{rights.ids['run']}/attestation.json" in names
        (payout,) = json.loads(archive.read("payouts.json"))
        assert payout["accepted"] and payout["weight_bps"] == 10000
        audit = [json.loads(line) for line in archive.read("audit.jsonl").splitlines()]
        assert {"contribution_submitted", "run_submitted"} <= {row["event"] for row in audit}
    with rights.sdk("B") as other:  # another wallet's archive holds none of it
        names = zipfile.ZipFile(
            io.BytesIO(other.export(rights.state.parent / "b.zip").read_bytes())
        ).namelist()
        assert not [n for n in names if n.startswith("contributions/")]


def test_withdrawal_of_unused_data_deletes_every_copy_and_is_idempotent(rights: Rights) -> None:
    with rights.sdk("A") as wallet:
        first = wallet.contributions.withdraw(rights.ids["unused"])
        assert first.model_versions == [] and first.kept.attestations == []
        assert rights.holders(MARKERS[1]) == []
        again = wallet.contributions.withdraw(rights.ids["unused"])
        assert again.model_dump(exclude={"contribution"}) == first.model_dump(exclude={"contribution"})
        view = wallet.contributions.get(rights.ids["unused"])
        assert view.data is not None and view.data.state == "deleted" and view.data.reason == "withdrawn"


def test_only_the_contributing_wallet_withdraws(rights: Rights) -> None:
    with rights.sdk("B") as other, pytest.raises(NotFound):
        other.contributions.withdraw(rights.ids["used"])
    with rights.sdk("owner") as owner, pytest.raises(Forbidden) as refused:
        owner.contributions.withdraw(rights.ids["used"])
    assert refused.value.code == "not_contributor"
    assert rights.holders(MARKERS[0])  # nothing was deleted


def test_withdrawal_after_an_accepted_run_keeps_the_proof_and_names_the_versions(rights: Rights) -> None:
    with rights.sdk("A") as wallet:
        answer = wallet.contributions.withdraw(rights.ids["used"])
        assert answer.model_versions == [f"models:/rights/{rights.ids['version']}"]
        assert answer.kept.attestations == [rights.ids["attestation"]] and answer.kept.manifest
        assert rights.holders(MARKERS[0]) == []
        assert answer.contribution.data_hash == answer.kept.data_hash and answer.contribution.dataset.manifest
        assert wallet.attestations.verify(wallet.attestations.get(rights.ids["attestation"])).valid
        with pytest.raises(Conflict) as refused:
            wallet.runs.submit("rights", [rights.ids["used"]])
        assert refused.value.code == "contribution_withdrawn"
    with httpx.Client(base_url=rights.url, headers={"Authorization": f"Bearer {rights.admin}"}) as admin:
        audit = admin.get("/api/v1/audit", params={"limit": 500}).raise_for_status().json()
    events = {(e["event"], e["resource"]) for e in audit["events"]}
    assert ("contribution_withdrawn", f"contribution:{rights.ids['used']}") in events


def test_the_contributor_page_shows_where_each_raw_file_is_what_was_kept_and_why(rights: Rights) -> None:
    cells = page_data(rights)
    with rights.sdk("A") as wallet:
        views = {name: wallet.contributions.get(rights.ids[name]) for name in ("unused", "used", "kept")}
    for name in ("unused", "used"):  # withdrawn: when, and what stays with the reasons the API gives
        data, (state, reason, text) = views[name].data, cells[rights.ids[name]]
        assert data is not None and data.kept is not None and data.deleted_at is not None
        assert (state, reason) == ("deleted", "withdrawn")
        assert (
            f"withdrawn on {shown(views[name].withdrawn_at)}: raw data deleted on {shown(data.deleted_at)}"
            in text
        )
        assert data.kept.reasons and all(why in text for why in data.kept.reasons), text
    used = cells[rights.ids["used"]][2]
    assert rights.ids["attestation"] in used and f"models:/rights/{rights.ids['version']}" in used
    stored = views["kept"].data
    assert stored is not None and stored.delete_after is not None
    assert cells[rights.ids["kept"]][:2] == ("stored", None)
    assert f"retention deletes it after {shown(stored.delete_after)}" in cells[rights.ids["kept"]][2]


def test_retention_dry_run_lists_without_deleting_then_the_sweep_deletes(rights: Rights) -> None:
    with rights.sdk("owner") as owner:
        owner.request("PATCH", "/api/v1/models/rights", json={"retention_days": 0})
    with rights.sdk("admin") as admin:
        listed = admin.contributions.retention(dry_run=True)
        assert [i.contribution_id for i in listed.items] == [rights.ids["kept"]]
        assert rights.holders(MARKERS[2])  # a dry run deletes nothing
        swept = admin.contributions.retention(dry_run=False)
        assert [(i.contribution_id, i.deleted) for i in swept.items] == [(rights.ids["kept"], True)]
    assert rights.holders(MARKERS[2]) == []
    with rights.sdk("A") as wallet:
        data = wallet.contributions.get(rights.ids["kept"]).data
    assert data is not None and data.reason == "retention" and data.kept is not None and data.kept.reasons
    state, reason, text = page_data(rights)[rights.ids["kept"]]  # and the contributor's page says so
    assert data.deleted_at is not None and (state, reason) == ("deleted", "retention")
    assert f"deleted by retention: raw data deleted on {shown(data.deleted_at)}" in text
    assert f"({data.retention_days} days after its last evaluation)" in text
    assert all(why in text for why in data.kept.reasons), text
