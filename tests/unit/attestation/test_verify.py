"""Verification recomputes every hash and the signature; each tampering is caught and named."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from hokusai.attestation.content import leaves, signed_view
from hokusai.attestation.signing import Signer
from hokusai.attestation.verify import verify_attestation
from hokusai.errors import NotFound
from hokusai.hashing import file_sha256
from tests.unit.attestation.conftest import WALLETS, Sealed, make_sealed


def _failed(sealed_document: dict, report: dict | None, signer: str, **kwargs: object) -> list[str]:
    verdict = verify_attestation(sealed_document, report=report, signer=signer, **kwargs)  # type: ignore[arg-type]
    return [c.name for c in verdict.failed]


def test_an_untouched_attestation_passes_every_check(sealed: Sealed) -> None:
    verdict = verify_attestation(sealed.document, report=sealed.report, signer=sealed.signer.address)
    assert verdict.valid, verdict.failed
    assert [c.name for c in verdict.checks] == [
        "schema", "report", "pipeline_run_id", "hash_tree_root", "public_inputs_hash", "weights", "signature",
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


def test_a_value_within_the_noise_floor_earns_nothing_when_weights_are_recomputed(sealed: Sealed) -> None:
    document, report = sealed.copy()
    report["contributions"][1]["value_pp"] = 0.4  # below the 0.5 pp floor: 10000 / 0, not 6667 / 3333
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
