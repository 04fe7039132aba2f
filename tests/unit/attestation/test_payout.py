"""Only accepted runs pay: the report and the attestation sign 0 bps for a run that is not a DeltaOne (its
values kept for the record), ``hokusai attest verify`` recomputes exactly that, and each contribution says
whether it is paid and why; an excluded contribution is listed in the attestation as ``invalid``."""

from __future__ import annotations

from typing import Any

import pytest

from hokusai.attestation.content import pipeline_run_id, run_identity
from hokusai.attestation.document import BenchmarkEntry, ContributorEntry, ModelEntry, build_document, seal
from hokusai.attestation.schema import schema_errors
from hokusai.attestation.signing import Signer, bind_domain
from hokusai.attestation.verify import verify_attestation
from hokusai.evaluation.attribution import Attribution
from hokusai.evaluation.compare import MetricComparison
from hokusai.evaluation.decision import Decision, decide
from hokusai.evaluation.integrate import ContributionRows
from hokusai.evaluation.intervals import Interval
from hokusai.evaluation.metrics import task_for
from hokusai.evaluation.report import REASONS, REPORT_VERSION, build_report, payable_bps
from hokusai.evaluation.valuation import Method
from hokusai.evaluation.weights import weights_from_values
from tests.unit.attestation.conftest import HASH, OPTIONS, WALLETS, _manifest

COMPARISONS = {
    "accuracy": MetricComparison("accuracy", 0.81, 0.84, Interval(0.01, 0.05, "paired_bootstrap")),
    "auroc": MetricComparison("auroc", 0.88, 0.91, Interval(0.012, 0.048, "delong")),
}


def _decision(threshold: float) -> Decision:
    """Accepted at threshold 1 pp; ``delta_below_threshold`` at 10 pp (the gain is +3 pp)."""
    return decide(
        COMPARISONS, primary_metric="auroc", weights={"auroc": 1.0}, benchmark_rows=400,
        threshold=threshold, min_benchmark_rows=200,
    )  # fmt: skip


def _attribution(values: list[float | None], players: list[bool], accepted: bool) -> Attribution:
    return Attribution(
        method=Method.EXACT, players=players, values_pp=values,
        stderr_pp=[0.1 if p else None for p in players],
        weights=weights_from_values(
            values, stderr_pp=[0.1 if p else None for p in players], players=players, accepted=accepted
        ),
        budget=64, coalition_retrains=4,
        noise_retrains=3,
    )  # fmt: skip


def _report(decision: Decision, excluded: bool = False) -> dict[str, Any]:
    values: list[float | None] = [2.0, 1.0, None] if excluded else [2.0, 1.0, -0.5]
    players = [True, True, not excluded]
    rows = ContributionRows(40, 40, 0, 0, 0, 0)
    empty = ContributionRows(0, 0, 0, 0, 0, 0)
    reason = {"code": "validation_failed", "message": "contribution 3 (c.csv) fails validation: …"}
    return build_report(
        kind="evaluation", run_id="hk-1", decision=decision, comparisons=COMPARISONS, task=task_for([0, 1]),
        task_kind="binary", options=OPTIONS, samples={},
        contributions=[
            {"wallet": WALLETS[0], "data_hash": HASH["c1"]},
            {"wallet": WALLETS[1], "data_hash": HASH["c2"]},
            {"wallet": WALLETS[1], "data_hash": HASH["train"], "excluded": reason if excluded else None},
        ],
        rows=[rows, rows, empty if excluded else rows],
        attribution=_attribution(values, players, decision.accepted), near_duplicates=None,
    )  # fmt: skip


def test_an_accepted_run_pays_by_value_and_says_why_each_contribution_is_or_is_not_paid() -> None:
    report = _report(_decision(1.0))
    assert report["outcome"]["accepted"] and report["report_version"] == REPORT_VERSION
    entries = report["contributions"]
    assert [c["weight_bps"] for c in entries] == [6667, 3333, 0]
    paid = (True, "distinguishable_gain")
    assert [(c["paid"], c["reason"]) for c in entries] == [paid, paid, (False, "harmful")]
    assert {(c["method"], c["retrains"]) for c in entries} == {("exact", 7)}
    assert report["payout"] == {"paid": True, "reason": "accepted", "outcome": "accepted"}
    assert all(c["reason"] in REASONS for c in entries)


def test_a_run_that_is_not_accepted_signs_zero_weights_and_keeps_the_values() -> None:
    report = _report(_decision(10.0))
    assert report["outcome"]["reason"] == "delta_below_threshold"
    entries = report["contributions"]
    assert [c["weight_bps"] for c in entries] == [0, 0, 0]
    assert [c["value_pp"] for c in entries] == [2.0, 1.0, -0.5]  # for the record
    assert {(c["paid"], c["reason"]) for c in entries} == {(False, "not_accepted")}
    assert report["payout"] == {"paid": False, "reason": "not_accepted", "outcome": "delta_below_threshold"}
    assert payable_bps([6667, 3333], False) == [0, 0] and payable_bps([6667, 3333], True) == [6667, 3333]


def test_an_excluded_contribution_is_not_paid_and_says_so() -> None:
    entries = _report(_decision(1.0), excluded=True)["contributions"]
    assert entries[2]["excluded"]["code"] == "validation_failed"
    assert (entries[2]["paid"], entries[2]["reason"], entries[2]["weight_bps"]) == (False, "excluded", 0)
    assert entries[2]["method"] is None and entries[2]["retrains"] is None


def _sealed(signer: Signer, report: dict[str, Any], bps: list[int], valid: list[bool]) -> dict[str, Any]:
    """A sealed document over ``report`` (re-identified for its contributions) with ``bps`` signed."""
    hashes = [c["data_hash"] for c in report["contributions"]]
    wallets = [c["wallet"] for c in report["contributions"]]
    run_id = pipeline_run_id(
        run_identity(baseline_model_hash=HASH["base"], train_hash=HASH["train"], benchmark_hash=HASH["bench"],
                     contributions=list(zip(hashes, wallets, strict=True)), options=OPTIONS)
    )  # fmt: skip
    report.update(pipeline_run_id=run_id, valuation={**report["valuation"], "noise_floor_pp": 0.0})
    report = bind_domain(report, signer.domain)
    document = build_document(
        run_id=run_id, environment="test", timestamp="2026-01-01T00:00:00Z", comparisons=COMPARISONS,
        decision=_decision(1.0 if report["outcome"]["accepted"] else 10.0), metric_weights={"auroc": 1.0},
        benchmark=BenchmarkEntry("bench.csv", 400, HASH["bench"], ["a"]),
        baseline=ModelEntry("models:/m/1", "sklearn.X", HASH["base"], HASH["base"],
                            {"base_samples": 100, "data_manifest": _manifest(HASH["train"], 100)}),
        candidate=ModelEntry("candidate", "sklearn.X", HASH["cand"], HASH["cand"], {"base_samples": 100}),
        contributors=[
            ContributorEntry(w, h, _manifest(h, 40), b, 40 if ok else 0, valid=ok)
            for w, h, b, ok in zip(wallets, hashes, bps, valid, strict=True)
        ],
        evaluation_seconds=1.0,
    )  # fmt: skip
    return {"document": seal(document, report, signer), "report": report}


def test_verify_accepts_zero_weights_for_a_rejected_run_and_refuses_payable_looking_ones(
    signer: Signer,
) -> None:
    report = _report(_decision(10.0))
    zero = _sealed(signer, report, [0, 0, 0], [True] * 3)
    verdict = verify_attestation(zero["document"], report=zero["report"])
    assert verdict.valid, verdict.failed
    payable = _sealed(signer, _report(_decision(10.0)), [6667, 3333, 0], [True] * 3)  # what main signed
    verdict = verify_attestation(payable["document"], report=payable["report"])
    assert [c.name for c in verdict.failed] == ["weights"]
    assert "recomputed [0, 0, 0]" in verdict.failed[0].reason


@pytest.mark.parametrize("version", ["2", "3"])
def test_an_older_report_of_a_rejected_run_still_verifies_as_it_was_signed(
    signer: Signer, version: str
) -> None:
    report = {**_report(_decision(10.0)), "report_version": version}
    signed = _sealed(signer, report, [6667, 3333, 0], [True] * 3)
    assert verify_attestation(signed["document"], report=signed["report"]).valid


def test_the_attestation_lists_an_excluded_contribution_as_invalid_with_weight_zero(signer: Signer) -> None:
    report = _report(_decision(1.0), excluded=True)
    signed = _sealed(signer, report, [c["weight_bps"] for c in report["contributions"]], [True, True, False])
    document = signed["document"]
    assert schema_errors(document) == []
    assert [c["validation_status"] for c in document["contributors"]] == ["valid", "valid", "invalid"]
    assert (
        document["contributors"][2]["weight"] == 0 and document["contributors"][2]["contributed_samples"] == 0
    )
    assert verify_attestation(document, report=signed["report"]).valid


def test_the_run_page_reads_paid_and_reason_from_the_report_or_derives_paid_from_the_weight() -> None:
    from hokusai.server.ui.pages import payout

    excluded = _report(_decision(1.0), excluded=True)["contributions"][2]
    shown = payout(excluded, None)
    assert (shown["paid"], shown["reason"], shown["reason_text"]) == (False, "excluded", REASONS["excluded"])
    assert shown["excluded"].startswith("contribution 3 (c.csv) fails validation")
    older = {"value_pp": 1.0, "weight_bps": 2500}  # a report from before paid/reason: paid when weight > 0
    assert payout(older, 2500)["paid"] is True and payout({"weight_bps": 0}, 0)["paid"] is False
