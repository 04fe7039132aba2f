"""Signed contribution terms against a real ``hokusai up`` (the seeded world): an offer signed by another
wallet, an expired one and one weaker than the model's benchmark spec requires are each refused with their
reason and leave nothing stored; a valid one is stored and shown; and the terms hash a run's attestation
records re-verifies on a bare machine from the attestation, its report and the signed terms alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hokusai.attestation import verify_attestation
from hokusai.attestation.terms import terms_hash, terms_signer
from tests.integration.authorization.conftest import World
from tests.support.terms import terms_fields

pytestmark = pytest.mark.realparts
LICENSED = "licensed"
REQUIRED = {"licenses": ["CC0-1.0"], "commercial_use": True, "accepts_attribution": False}


@pytest.fixture(scope="module")
def licensed(world: World) -> str:
    """owner2's model whose spec requires CC0-1.0, commercial use and no attribution requirement."""
    with world.sdk("owner2") as owner:
        owner.models.register(
            LICENSED, target="diagnosis_benign", train=world.ids["base"], benchmark=world.ids["benchmark"],
            archive=world.ids["model_dir"], spec={"contribution_terms": REQUIRED},
        )  # fmt: skip
    return LICENSED


def _rows(world: World, seed: int) -> bytes:
    import pandas as pd

    frame = pd.read_csv(world.ids["contribution_file"]).sample(n=60, random_state=1000 + seed)
    return frame.to_csv(index=False).encode()


def _post(world: World, actor: str, model: str, data: bytes, fields: dict[str, str]) -> Any:
    with world.http(actor) as client:
        return client.post(
            f"/api/v1/models/{model}/contributions",
            data=fields,
            files={"file": ("rows.csv", data, "text/csv")},
        )


def _refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


def _listed(world: World, model: str) -> set[str]:
    with world.http("admin") as admin:
        return {
            c["data_hash"] for c in admin.get(f"/api/v1/models/{model}/contributions").json()["contributions"]
        }


def test_terms_signed_by_another_wallet_are_refused_with_terms_signer_mismatch(world: World) -> None:
    data = _rows(world, 1)
    signed_by_a = terms_fields(world.url, world.actors["walletA"].wallet, "m1", data)
    error = _refused(_post(world, "walletB", "m1", data, signed_by_a), 403, "terms_signer_mismatch")
    assert world.actors["walletA"].wallet.address in error["message"]  # type: ignore[union-attr]
    unsigned = _refused(_post(world, "walletB", "m1", data, {}), 400, "terms_required")
    assert "terms_signature" in unsigned["message"]
    assert _sha(data) not in _listed(world, "m1")


def test_an_expired_offer_is_refused_with_terms_expired(world: World) -> None:
    data = _rows(world, 2)
    expired = terms_fields(
        world.url, world.actors["walletB"].wallet, "m1", data, deadline=int(time.time()) - 1
    )
    _refused(_post(world, "walletB", "m1", data, expired), 400, "terms_expired")
    assert _sha(data) not in _listed(world, "m1")


def test_terms_weaker_than_the_spec_requires_are_refused_and_sufficient_ones_are_stored(
    world: World, licensed: str
) -> None:
    wallet = world.actors["walletB"].wallet
    data = _rows(world, 3)
    weaker = terms_fields(world.url, wallet, licensed, data, license="CC-BY-4.0", commercial_use=False)
    error = _refused(_post(world, "walletB", licensed, data, weaker), 422, "terms_insufficient")
    assert len(error["details"]["shortfalls"]) == 3  # licence, commercial use, attribution: each named
    assert _sha(data) not in _listed(world, licensed)
    enough = terms_fields(world.url, wallet, licensed, data, license="CC0-1.0", attribution=False)
    response = _post(world, "walletB", licensed, data, enough)
    assert response.status_code == 201, response.text
    terms = response.json()["terms"]
    assert (terms["license"], terms["commercial_use"], terms["attribution"]) == ("CC0-1.0", True, False)
    with world.http("owner2") as owner:  # the model's owner reads the stored terms as signed
        stored = owner.get(f"/api/v1/contributions/{response.json()['id']}").json()["terms"]
    assert stored["hash"] == terms_hash(stored["typed_data"]) == terms["hash"]
    assert terms_signer(stored["typed_data"], stored["signature"]) == wallet.address  # type: ignore[union-attr]


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _verify(folder: Path, terms_file: Path) -> tuple[int, dict[str, Any]]:
    """``hokusai attest verify`` in a fresh process that knows no platform: the files are all it has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    env["HOME"] = str(folder)  # no client config file either
    done = subprocess.run(
        [sys.executable, "-m", "hokusai", "attest", "verify", str(folder / "attestation.json"),
         "--signers", str(folder / "signers.json"), "--terms", str(terms_file), "--json"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    verdict = json.loads(done.stdout)
    return done.returncode, {c["name"]: c for c in verdict["checks"]}


def test_the_attestations_terms_hash_reverifies_on_a_bare_machine(world: World, tmp_path: Path) -> None:
    with world.sdk("walletA") as wallet:
        contribution = wallet.contributions.get(world.ids["contribution"]).model_dump(mode="json")
        document = wallet.attestations.get(world.ids["attestation"])
        report = wallet.attestations.report(world.ids["attestation"])
        signers = wallet.attestations.signers().model_dump(mode="json")
    assert [c.get("terms_hash") for c in report["contributions"]] == [contribution["terms"]["hash"]]
    for name, value in (("attestation.json", document), ("evaluation_report.json", report),
                        ("signers.json", signers), ("contribution.json", contribution)):  # fmt: skip
        (tmp_path / name).write_text(json.dumps(value))
    code, checks = _verify(tmp_path, tmp_path / "contribution.json")
    assert code == 0 and checks["terms:1"]["ok"], checks
    assert world.actors["walletA"].wallet.address in checks["terms:1"]["reason"]  # type: ignore[union-attr]
    tampered = json.loads(json.dumps(contribution["terms"]))
    message = tampered["typed_data"]["message"]
    message["commercialUse"] = not message["commercialUse"]
    tampered.pop("hash")
    verdict = verify_attestation(document, report=report, terms=[tampered])  # the same check, in process
    (check,) = [c for c in verdict.checks if c.name == "terms:1"]
    assert not verdict.valid and not check.ok and "not recorded" in check.reason, check


def test_the_cli_signs_the_terms_its_flags_give_with_the_sign_in_wallet(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hokusai.cli import main

    data = tmp_path / "rows.csv"
    data.write_bytes(_rows(world, 4))
    wallet = world.actors["walletB"].wallet
    monkeypatch.setenv("HOKUSAI_WALLET_KEY", wallet.key.hex())  # type: ignore[union-attr]
    argv = ["contribute", str(data), "--model", "m1", "--url", world.url, "--wallet", "--license", "CC0-1.0",
            "--no-derivatives", "--no-attribution", "--json"]  # fmt: skip
    try:
        main(argv)
    except SystemExit as exited:  # only a failure raises
        pytest.fail(f"exit {exited.code}: {capsys.readouterr()}")
    terms = json.loads(capsys.readouterr().out)["terms"]
    assert (terms["license"], terms["commercial_use"], terms["derivatives"], terms["attribution"]) == (
        "CC0-1.0", True, False, False,
    )  # fmt: skip
    assert terms_signer(terms["typed_data"], terms["signature"]) == wallet.address  # type: ignore[union-attr]
