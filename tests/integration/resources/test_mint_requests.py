"""An accepted run's mint request from the platform, sent to a verifier on a real EVM.

The platform runs with two attester key files (threshold 2), the in-process chain's id and the address of
``tests/contracts/DeltaVerifierHarness.sol`` deployed there (compiled by npm solc). The model's genesis
head is the commitment the platform computed at registration, bound to the model: a second model
registered from the same file has another. The owner binds the on-chain id with the signature of the
wallet that owns it on chain (unsigned, or for an id another model holds, it is refused). The first
accepted run's ``submitCalldata`` is accepted on chain and its candidate becomes the head. The accepted
run already made its candidate the model's baseline (a second run is evaluated against it); once the owner
records the mint, a mint request for a run evaluated against the old head is refused with 409
``stale_baseline`` before anything reaches the chain.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
import pytest
from eth_account import Account

import hokusai
from hokusai.attestation.commitment import model_bound
from tests.integration.resources.conftest import DOMAIN, DemoFiles
from tests.support.mlflow import mlflow_settings
from tests.support.platform import serve_platform

pytestmark = pytest.mark.realparts
pytest.importorskip("eth_tester", reason="eth-tester is not installed: pip install -e '.[test]'")
from tests.contracts.evm import Chain, compile_contract, missing_toolchain  # noqa: E402

MODEL_ID = 2**160 + 11  # a uint256 beyond what a float or a JSON number holds exactly


def test_an_accepted_runs_mint_request_is_accepted_on_chain_and_a_stale_one_is_refused(
    tmp_path: Path,
    mlflow_server,
    demo_files: DemoFiles,  # type: ignore[no-untyped-def]
) -> None:
    reason = missing_toolchain()
    if reason:
        pytest.skip(reason)
    compiled = compile_contract("DeltaVerifierHarness.sol", "DeltaVerifierHarness")
    chain = Chain()
    keys = [Account.create() for _ in range(2)]
    files = []
    for i, account in enumerate(keys):
        path = tmp_path / f"attester-{i}.key"
        path.write_text(account.key.hex() + "\n")
        path.chmod(0o600)
        files.append(str(path))
    addresses = sorted((a.address for a in keys), key=lambda a: int(a, 16))
    verifier = chain.deploy(compiled, ["address[]", "uint256"], [addresses, 2])
    settings = mlflow_settings(
        tmp_path / "state", mlflow_url=mlflow_server.url, public_domain=DOMAIN, job_workers=1,
        chain_id=chain.chain_id, delta_verifier_address=verifier.address,
        attester_key_files=",".join(files), attester_threshold=2, rate_limit_per_minute=100_000,
    )  # fmt: skip
    rows = pd.read_csv(demo_files.contribution)
    halves = [tmp_path / "a.csv", tmp_path / "b.csv"]
    rows.iloc[::2].to_csv(halves[0], index=False)
    rows.iloc[1::2].to_csv(halves[1], index=False)
    with serve_platform(settings) as platform, platform.client() as admin:
        key = admin.keys.create("minter", ["read", "write"], principal_name="minter").key
        owner = hokusai.Client(api_key=key, url=platform.url)
        model = owner.models.register(
            "minted", target=demo_files.target, train=demo_files.base, benchmark=demo_files.benchmark,
            archive=demo_files.model_dir, spec={"cooldown_seconds": 0},
        )  # fmt: skip
        genesis = model.model_dump()["weight_head"]
        assert genesis and genesis.startswith("0x") and len(genesis) == 66
        twin = owner.models.register(
            "minted-twin", target=demo_files.target, train=demo_files.base, benchmark=demo_files.benchmark,
            archive=demo_files.model_dir,
        )  # fmt: skip
        assert twin.model_hash == model.model_hash and twin.model_dump()["weight_head"] != genesis
        verifier.transact(verifier.encode_call("setGenesis", MODEL_ID, bytes.fromhex(genesis[2:])))

        runs = []
        for half in halves:
            contribution = admin.contributions.submit("minted", half, signer=Account.create())
            submitted = owner.runs.submit("minted", [contribution.id])
            runs.append(owner.runs.wait(submitted.id, timeout=600, interval=1.5))  # within the key's 100/min
        assert runs[0].outcome == "accepted", runs[0].result
        assert runs[1].state == "succeeded" and runs[1].attestation_id, runs[1].error
        evaluated = owner.attestations.report(runs[1].attestation_id)["weight_commitments"]["baseline"]
        first_candidate = owner.attestations.report(runs[0].attestation_id)["weight_commitments"]["candidate"]
        assert evaluated == first_candidate  # the accepted run's candidate is the baseline of the next run

        with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {key}"}) as http:
            missing = http.get(f"/api/v1/runs/{runs[0].id}/mint-request")
            assert missing.status_code == 409 and missing.json()["error"]["code"] == "no_onchain_id"
            unsigned = http.patch("/api/v1/models/minted", json={"onchain_id": str(MODEL_ID)})
            assert unsigned.status_code == 403 and unsigned.json()["error"]["code"] == "onchain_id_unsigned"
        onchain_owner = Account.create()
        bound = owner.models.set_onchain_id("minted", MODEL_ID, signer=onchain_owner).model_dump()
        assert (bound["onchain_id"], bound["onchain_wallet"]) == (str(MODEL_ID), onchain_owner.address)
        assert (bound["onchain_chain_id"], bound["onchain_contract"]) == (chain.chain_id, verifier.address)
        with pytest.raises(hokusai.errors.Conflict) as taken:
            owner.models.set_onchain_id("minted-twin", MODEL_ID, signer=onchain_owner)
        assert taken.value.code == "onchain_id_taken"

        request = owner.runs.mint_request(runs[0].id)
        assert request.domain["chainId"] == chain.chain_id
        assert request.domain["verifyingContract"] == verifier.address
        assert request.signerAddresses == addresses and len(request.signatures) == 2
        assert int(request.message["modelId"]) == MODEL_ID
        report = owner.attestations.report(runs[0].attestation_id)
        candidate = model_bound(model.id, report["weight_commitments"]["candidate"])
        assert request.message["payload"]["baselineCommitment"] == genesis
        assert request.message["payload"]["candidateCommitment"] == candidate

        receipt = verifier.transact(request.submitCalldata)
        assert receipt["status"] == 1
        assert "0x" + verifier.call("head", MODEL_ID).hex() == candidate

        recorded = owner.request("PATCH", "/api/v1/models/minted", json={"weight_head": candidate})
        assert recorded["weight_head"] == candidate
        assert recorded["baseline_version"] == runs[0].model_dump()["registered_version"]  # the new baseline
        with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {key}"}) as http:
            stale = http.get(f"/api/v1/runs/{runs[0].id}/mint-request")  # evaluated against genesis
        assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_baseline"
        run_baseline = owner.attestations.report(runs[0].attestation_id)["weight_commitments"]["baseline"]
        assert model_bound(model.id, run_baseline) == genesis
        assert stale.json()["error"]["details"] == {"weight_head": candidate, "run_baseline": run_baseline}

        stranger = hokusai.Client(url=platform.url, wallet=Account.create(), domain=DOMAIN)
        with stranger, pytest.raises(hokusai.errors.HokusaiError) as refused:
            stranger.runs.mint_request(runs[0].id)
        assert refused.value.code == "role_required"  # a contributor's wallet never gets one
