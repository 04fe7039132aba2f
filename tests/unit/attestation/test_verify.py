"""Verification recomputes every hash and the signature; each tampering is caught and named."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from hokusai.attestation.content import leaves, signed_view
from hokusai.attestation.signing import REPORT_FIELD, Signer, attestation_domain
from hokusai.attestation.verify import verify_attestation
from hokusai.errors import NotFound
from hokusai.hashing import file_sha256
from tests.unit.attestation.conftest import KEY, WALLETS, Sealed, make_sealed


def _failed(sealed_document: dict, report: dict | None, signer: str, **kwargs: object) -> list[str]:
    verdict = verify_attestation(sealed_document, report=report, signer=signer, **kwargs)  # type: ignore[arg-type]
    return [c.name for c in verdict.failed]


def test_an_untouched_attestation_passes_every_check(sealed: Sealed) -> None:
    verdict = verify_attestation(sealed.document, report=sealed.report, signer=sealed.signer.address)
    assert verdict.valid, verdict.failed
    assert [c.name for c in verdict.checks] == [
        "schema", "report", "pipeline_run_id", "hash_tree_root", "public_inputs_hash", "weights", "domain",
        "signature",
        "signer",
    ]  # fmt: skip


def test_a_changed_metric_breaks_the_hash_tree_root(sealed: Sealed) -> None:
    document, report = sealed.copy()
    document["evaluation_results"]["new_metrics"]["auroc"] = 0.99
    assert _failed(document, report, sealed.signer.address) == ["hash_tree_root"]


def test_a_changed_weight_breaks_the_root_the_public_inputs_and_the_weights(sealed: Sealed) -> None:
    document, report = sealed.copy()
    document["contributors"][0]["weight"], document["contributors"][1]["weight"] = 0.5, 0.5
    assert _failed(document, report, sealed.signer.address) == [
        "hash_tree_root",
        "public_inputs_hash",
        "weights",
    ]


def test_a_changed_value_in_the_report_breaks_the_weights_and_the_root(sealed: Sealed) -> None:
    document, report = sealed.copy()
    report["contributions"][1]["value_pp"] = 2.0  # equal values would give 5000 / 5000
    assert _failed(document, report, sealed.signer.address) == ["hash_tree_root", "weights"]


def test_a_value_within_twice_its_error_earns_nothing_when_weights_are_recomputed(sealed: Sealed) -> None:
    document, report = sealed.copy()
    report["contributions"][1]["value_se_pp"] = 0.6  # 1.0 - 2 x 0.6 < 0: 10000 / 0, not 6667 / 3333
    failed = verify_attestation(document, report=report, signer=sealed.signer.address).failed
    assert [c.name for c in failed] == ["hash_tree_root", "weights"]
    assert "[10000, 0]" in failed[1].reason


def test_a_report_without_values_cannot_confirm_the_weights(sealed: Sealed) -> None:
    document, report = sealed.copy()
    del report["valuation"]
    assert "weights" in _failed(document, report, sealed.signer.address)


def test_a_changed_report_breaks_the_root(sealed: Sealed) -> None:
    document, report = sealed.copy()
    report["outcome"]["reason"] = "accepted (really)"
    assert _failed(document, report, sealed.signer.address) == ["hash_tree_root"]


def test_a_document_signed_by_another_key_fails_the_signer_check(sealed: Sealed) -> None:
    forged = make_sealed(Signer(Account.create()))
    assert _failed(forged.document, forged.report, sealed.signer.address) == ["signer"]


def test_a_signature_over_other_content_fails_the_signature_check(sealed: Sealed) -> None:
    document, report = sealed.copy()
    document["attestation"]["signature_blob"] = sealed.signer.sign("hk-other", "00" * 32, "00" * 32)
    assert _failed(document, report, sealed.signer.address) == ["signature"]


def test_a_changed_wallet_breaks_the_run_id_root_and_public_inputs(sealed: Sealed) -> None:
    document, report = sealed.copy()
    document["contributors"][0]["wallet_address"] = WALLETS[1]
    assert _failed(document, report, sealed.signer.address) == [
        "pipeline_run_id",
        "hash_tree_root",
        "public_inputs_hash",
    ]


def test_without_its_report_the_root_cannot_be_recomputed(sealed: Sealed) -> None:
    failed = _failed(sealed.document, None, sealed.signer.address)
    assert failed == ["report", "pipeline_run_id", "hash_tree_root", "weights"]


def test_a_broken_document_fails_checks_instead_of_crashing(sealed: Sealed) -> None:
    document, report = sealed.copy()
    del document["models"]
    failed = _failed(document, report, sealed.signer.address)
    assert "schema" in failed and "hash_tree_root" in failed


def test_timestamps_and_mlflow_ids_are_outside_the_signed_content(signer: Signer) -> None:
    first = make_sealed(signer, timestamp="2026-01-01T00:00:00Z", mlflow_run="run-a")
    second = make_sealed(signer, timestamp="2027-06-30T12:00:00Z", mlflow_run="run-b")
    assert signed_view(first.document) == signed_view(second.document)
    assert first.document["attestation"] == second.document["attestation"]
    assert verify_attestation(second.document, report=second.report, signer=signer.address).valid


def test_leaves_are_models_data_sections_and_report_in_order(sealed: Sealed) -> None:
    names = [leaf.name for leaf in leaves(sealed.document, sealed.report)]
    assert names == [
        "model:baseline", "model:candidate", "data:train", "data:benchmark",
        "data:contribution:1", "data:contribution:2", "section:header", "section:evaluation_results",
        "section:delta_computation", "section:models", "section:contributors", "report:evaluation",
    ]  # fmt: skip


def test_a_data_file_passes_only_when_its_hash_is_attested(sealed: Sealed, tmp_path: Path) -> None:
    data = tmp_path / "bench.csv"
    data.write_text("a,b,y\n1,2,0\n")
    verdict = verify_attestation(
        sealed.document, report=sealed.report, signer=sealed.signer.address, data_paths=[data]
    )
    assert [c.name for c in verdict.failed] == ["data:bench.csv"]
    assert file_sha256(data) in verdict.failed[0].reason


def test_a_missing_data_file_is_not_found(sealed: Sealed, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        verify_attestation(sealed.document, report=sealed.report, data_paths=[tmp_path / "nope.csv"])


CONTRACT = "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"


def test_the_report_records_the_domain_the_signature_is_made_under(sealed: Sealed) -> None:
    assert sealed.report[REPORT_FIELD] == {"name": "Hokusai Attestation", "version": "1", "chainId": 1}


def test_an_attestation_for_another_chain_fails_the_pinned_domain_check(signer: Signer) -> None:
    other_chain = make_sealed(Signer(Account.from_key(KEY), attestation_domain(137)))
    verdict = verify_attestation(
        other_chain.document,
        report=other_chain.report,
        signer=signer.address,
        expected_domain=attestation_domain(1),
    )
    assert [c.name for c in verdict.failed] == ["domain"]
    assert "137" in verdict.failed[0].reason
    unpinned = verify_attestation(other_chain.document, report=other_chain.report, signer=signer.address)
    assert unpinned.valid  # the report's own domain is trusted when nothing is pinned


def test_a_verifying_contract_in_the_domain_is_pinned_too(signer: Signer) -> None:
    domain = attestation_domain(1, CONTRACT)
    bound = make_sealed(Signer(Account.from_key(KEY), domain))
    assert bound.report[REPORT_FIELD]["verifyingContract"] == CONTRACT
    assert verify_attestation(bound.document, report=bound.report, expected_domain=domain).valid
    failed = _failed(bound.document, bound.report, signer.address, expected_domain=attestation_domain(1))
    assert failed == ["domain"]


def test_changing_the_recorded_domain_breaks_the_root_and_the_signature(sealed: Sealed) -> None:
    document, report = sealed.copy()
    report[REPORT_FIELD]["chainId"] = 10
    assert _failed(document, report, sealed.signer.address) == ["hash_tree_root", "signature"]


def test_a_report_without_a_domain_is_the_legacy_domain_and_fails_when_a_chain_is_pinned(
    signer: Signer,
) -> None:
    legacy = make_sealed_legacy(signer)
    assert verify_attestation(legacy.document, report=legacy.report, signer=signer.address).valid
    failed = verify_attestation(
        legacy.document, report=legacy.report, signer=signer.address, expected_domain=attestation_domain(1)
    ).failed
    assert [c.name for c in failed] == ["domain"] and "legacy domain without chainId" in failed[0].reason


def make_sealed_legacy(signer: Signer) -> Sealed:
    """An attestation as sealed before the domain had a chain id: report without a domain."""
    from hokusai.attestation.content import hash_tree_root, public_inputs_hash
    from hokusai.attestation.signing import LEGACY_DOMAIN

    current = make_sealed(signer)
    report = {k: v for k, v in current.report.items() if k != REPORT_FIELD}
    document = {k: v for k, v in current.document.items() if k != "attestation"}
    root = hash_tree_root(document, report)
    inputs = public_inputs_hash(document, root)
    legacy = Signer(Account.from_key(KEY), LEGACY_DOMAIN)
    document["attestation"] = {
        **current.document["attestation"],
        "hash_tree_root": root,
        "public_inputs_hash": inputs,
        "signature_blob": legacy.sign(document["metadata"]["pipeline_run_id"], root, inputs),
    }
    return Sealed(document, report, signer)


def test_the_signer_may_be_any_of_a_published_set(sealed: Sealed) -> None:
    others = [Account.create().address for _ in range(2)]
    assert verify_attestation(
        sealed.document, report=sealed.report, signer={*others, sealed.signer.address}
    ).valid
    failed = _failed(sealed.document, sealed.report, others)  # type: ignore[arg-type]
    assert failed == ["signer"]


def test_a_high_s_copy_of_a_valid_signature_is_refused(sealed: Sealed) -> None:
    from hokusai.attestation.eip712 import SECP256K1_N

    document, report = sealed.copy()
    raw = bytes.fromhex(document["attestation"]["signature_blob"][2:])
    high_s = (SECP256K1_N - int.from_bytes(raw[32:64], "big")).to_bytes(32, "big")
    document["attestation"]["signature_blob"] = "0x" + (raw[:32] + high_s + bytes([55 - raw[64]])).hex()
    verdict = verify_attestation(document, report=report, signer=sealed.signer.address)
    assert [c.name for c in verdict.failed] == ["signature"]
    assert "high s" in verdict.failed[0].reason
