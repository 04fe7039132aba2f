"""Attestations keep verifying after the platform changes what it signs with: a real ``hokusai up`` signs
with key K1 under chain 1 and no verifying contract, restarts with key K2 and a DeltaVerifier address, and
the document signed before is still VALID by the API the attestation page uses, the SDK, and the CLI (with
the platform, and offline from a saved copy of its published signers); a document claiming a domain or a
signer the platform never published is INVALID, with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

import hokusai
from hokusai.api_keys import generate_key
from hokusai.attestation.attesters import create_key_file, read_key_file
from hokusai.attestation.signing import Signer, attestation_domain
from hokusai.wallet import checksum_address
from tests.support.stack import UpProcess, up_env
from tests.unit.attestation.conftest import Sealed, make_sealed

pytestmark = pytest.mark.realparts

VERIFIER = checksum_address("0x" + "de" * 20)
NEVER_PUBLISHED = "0x" + "ba" * 20


@dataclass
class Restarted:
    """The platform after the change, and the documents signed on either side of it."""

    url: str
    workdir: Path
    before: Sealed  # K1, chain 1, no contract: signed before the restart
    after: Sealed  # K2, chain 1, VERIFIER: signed with today's configuration
    k1: Signer
    k2: Signer


def _up(workdir: Path, name: str, admin_hash: str, key_file: Path, verifier: str | None) -> UpProcess:
    env = up_env(
        workdir,
        HOKUSAI_ENVIRONMENT="test",
        HOKUSAI_JOB_WORKERS="1",
        HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH=admin_hash,
        HOKUSAI_SIGNER_KEY_FILE=str(key_file),
        HOKUSAI_DELTA_VERIFIER_ADDRESS=verifier or "",
    )
    up = UpProcess(workdir / name, env)
    up.wait_ready(180)
    return up


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restarted]:
    workdir = tmp_path_factory.mktemp("signers")
    admin = generate_key(live=False)
    k1_file, k2_file = workdir / "k1.key", workdir / "k2.key"
    create_key_file(k1_file)
    create_key_file(k2_file)
    k1 = Signer(read_key_file(k1_file), attestation_domain(1))
    k2 = Signer(read_key_file(k2_file), attestation_domain(1, VERIFIER))
    first = _up(workdir, "first", f"{admin.key_id}:{admin.key_hash}", k1_file, None)
    try:
        before = make_sealed(k1, timestamp=_now())
        answer = httpx.post(f"{first.api_url}/api/v1/attestations/verify", timeout=60,
                            json={"attestation": before.document, "report": before.report})  # fmt: skip
        assert answer.status_code == 200 and answer.json()["valid"], answer.text  # valid when signed
    finally:
        first.kill()
    second = _up(workdir, "second", f"{admin.key_id}:{admin.key_hash}", k2_file, VERIFIER)
    try:
        yield Restarted(second.api_url, workdir, before, make_sealed(k2, timestamp=_now()), k1, k2)
    finally:
        second.kill()


def _verify(url: str, sealed: Sealed) -> dict[str, Any]:
    body = {"attestation": sealed.document, "report": sealed.report}
    answer = httpx.post(f"{url}/api/v1/attestations/verify", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _failed(verdict: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["reason"] for c in verdict["checks"] if not c["ok"]}


def _cli(workdir: Path, sealed: Sealed, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    folder = workdir / f"cli-{len(list(workdir.glob('cli-*')))}"
    folder.mkdir()
    (folder / "attestation.json").write_text(json.dumps(sealed.document))
    (folder / "evaluation_report.json").write_text(json.dumps(sealed.report))
    hokusai_cli = Path(sys.executable).with_name("hokusai")
    bare = {k: v for k, v in os.environ.items() if not k.startswith("HOKUSAI_")}
    bare.update({"HOME": str(folder), "HOKUSAI_DATA_DIR": str(folder / "no-platform-here")}, **(env or {}))
    done = subprocess.run(
        [str(hokusai_cli), "attest", "verify", str(folder / "attestation.json"), "--json", *args],
        capture_output=True, text=True, env=bare, timeout=120, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_the_platform_publishes_its_signer_history(restarted: Restarted) -> None:
    published = httpx.get(f"{restarted.url}/api/v1/attestations/signers", timeout=30).json()
    assert published["signers"] == [restarted.k2.address] and published["verifying_contract"] == VERIFIER
    history = [(h["signer"], h["chain_id"], h["verifying_contract"], h["valid_to"] is None)
               for h in published["history"]]  # fmt: skip
    assert history == [(restarted.k1.address, 1, None, False), (restarted.k2.address, 1, VERIFIER, True)]


def test_a_document_signed_before_the_change_verifies_by_the_api_the_page_uses(restarted: Restarted) -> None:
    verdict = _verify(restarted.url, restarted.before)
    assert verdict["valid"], _failed(verdict)
    signer = next(c for c in verdict["checks"] if c["name"] == "signer")
    assert restarted.k1.address in signer["reason"] and "published from" in signer["reason"]
    assert _verify(restarted.url, restarted.after)["valid"]


def test_a_document_signed_before_the_change_verifies_by_the_sdk(restarted: Restarted) -> None:
    with hokusai.Client(url=restarted.url) as client:
        assert client.attestations.verify(restarted.before.document, restarted.before.report).valid
        assert client.attestations.verify(restarted.after.document, restarted.after.report).valid


def test_a_document_signed_before_the_change_verifies_by_the_cli_online_and_offline(
    restarted: Restarted,
) -> None:
    code, out = _cli(restarted.workdir, restarted.before, "--platform", restarted.url)
    assert code == 0, out
    code, out = _cli(restarted.workdir, restarted.before, env={"HOKUSAI_URL": restarted.url})
    assert code == 0, out
    saved = restarted.workdir / "signers.json"  # what `hokusai attest get` saves beside a document
    saved.write_text(httpx.get(f"{restarted.url}/api/v1/attestations/signers", timeout=30).text)
    code, out = _cli(restarted.workdir, restarted.before, "--signers", str(saved))  # no platform reachable
    assert code == 0, out


def test_a_domain_the_platform_never_published_is_invalid_with_the_reason(restarted: Restarted) -> None:
    forged = make_sealed(
        Signer(read_key_file(restarted.workdir / "k2.key"), attestation_domain(1, NEVER_PUBLISHED)), _now()
    )
    verdict = _verify(restarted.url, forged)
    assert not verdict["valid"]
    failed = _failed(verdict)
    assert "never published" in failed["domain"] and NEVER_PUBLISHED.lower() in failed["domain"].lower()
    assert {"schema", "signature", "hash_tree_root"}.isdisjoint(failed)  # well formed, well signed: forged
    code, out = _cli(restarted.workdir, forged, "--platform", restarted.url)
    assert code == 1 and "never published" in out


def test_a_signer_never_published_for_the_domain_it_claims_is_invalid(restarted: Restarted) -> None:
    old_key_new_domain = make_sealed(
        Signer(read_key_file(restarted.workdir / "k1.key"), attestation_domain(1, VERIFIER)), _now()
    )
    stranger = make_sealed(Signer(Account.create(), attestation_domain(1, VERIFIER)), _now())
    for forged in (old_key_new_domain, stranger):
        verdict = _verify(restarted.url, forged)
        assert list(_failed(verdict)) == ["signer"], _failed(verdict)
        assert "never a published signer for this domain" in _failed(verdict)["signer"]
    with hokusai.Client(url=restarted.url) as client:
        assert not client.attestations.verify(stranger.document, stranger.report).valid


def test_a_recorded_domain_with_a_field_eip712_does_not_know_is_invalid_not_a_500(
    restarted: Restarted,
) -> None:
    document, report = restarted.after.copy()
    report["attestation_domain"]["salt"] = "0x" + "00" * 32  # eth-account refused to encode it: a 500
    verdict = _verify(restarted.url, Sealed(document, report, restarted.k2))
    failed = _failed(verdict)
    assert not verdict["valid"] and "never published" in failed["domain"]
    assert "cannot be encoded" in failed["signature"]
