"""A sealed attestation built from fixed numbers, with its report and signer, for the attestation tests."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account

from hokusai.attestation.content import pipeline_run_id, run_identity
from hokusai.attestation.document import BenchmarkEntry, ContributorEntry, ModelEntry, build_document, seal
from hokusai.attestation.signing import Signer, bind_domain
from hokusai.evaluation.compare import MetricComparison
from hokusai.evaluation.decision import decide
from hokusai.evaluation.intervals import Interval

KEY = bytes.fromhex("4c0883a69102937d6231471b5decb2f39d16c5d2f5b4f1fd6e5a7dbfb8a8e1a1")
HASH = {name: f"{i:x}" * 64 for i, name in enumerate(["base", "cand", "train", "bench", "c1", "c2"], 1)}
WALLETS = ["0x5B38Da6a701c568545dCfcB03FcB875f56beddC4", "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"]
OPTIONS = {"kind": "evaluation", "target": "y", "primary_metric": "auroc", "seed": 42, "sample": None}


@dataclass
class Sealed:
    document: dict[str, Any]
    report: dict[str, Any]
    signer: Signer

    def copy(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return copy.deepcopy(self.document), copy.deepcopy(self.report)


def _manifest(digest: str, rows: int) -> dict[str, Any]:
    return {"data_hash": digest, "row_count": rows, "column_count": 3, "source_path": "data.csv"}


def make_sealed(signer: Signer, timestamp: str = "2026-01-01T00:00:00Z", mlflow_run: str = "abc") -> Sealed:
    comparisons = {
        "accuracy": MetricComparison("accuracy", 0.81, 0.84, Interval(0.01, 0.05, "paired_bootstrap")),
        "auroc": MetricComparison("auroc", 0.88, 0.91, Interval(0.012, 0.048, "delong")),
    }
    decision = decide(comparisons, primary_metric="auroc", weights={"auroc": 1.0}, benchmark_rows=400)
    identity = run_identity(
        baseline_model_hash=HASH["base"], train_hash=HASH["train"], benchmark_hash=HASH["bench"],
        contributions=[(HASH["c1"], WALLETS[0]), (HASH["c2"], WALLETS[1])], options=OPTIONS,
    )  # fmt: skip
    run_id = pipeline_run_id(identity)
    report = bind_domain(
        {
            "report_version": "2",
            "pipeline_run_id": run_id,
            "options": OPTIONS,
            "outcome": {"reason": "accepted", "accepted": True},
            "contributions": [  # values 2 : 1 give the attested 6667 / 3333 bps
                {"player": True, "value_pp": 2.0, "value_se_pp": 0.1, "weight_bps": 6667},
                {"player": True, "value_pp": 1.0, "value_se_pp": 0.1, "weight_bps": 3333},
            ],
            "valuation": {"method": "exact_shapley", "noise_floor_pp": 0.5},
        },
        signer.domain,
    )
    document = build_document(
        run_id=run_id,
        environment="test",
        timestamp=timestamp,
        comparisons=comparisons,
        decision=decision,
        metric_weights={"auroc": 1.0},
        benchmark=BenchmarkEntry("bench.csv", 400, HASH["bench"], ["a", "b"]),
        baseline=ModelEntry(
            "models:/m/1",
            "sklearn.X",
            HASH["base"],
            HASH["base"],
            {"base_samples": 100, "data_manifest": _manifest(HASH["train"], 100)},
        ),
        candidate=ModelEntry(
            "candidate",
            "sklearn.X",
            HASH["cand"],
            HASH["cand"],
            {"base_samples": 100, "contributed_samples": 60},
            mlflow_run,
        ),
        contributors=[
            ContributorEntry(WALLETS[0], HASH["c1"], _manifest(HASH["c1"], 40), 6667, 40),
            ContributorEntry(WALLETS[1], HASH["c2"], _manifest(HASH["c2"], 20), 3333, 20),
        ],
        evaluation_seconds=1.25,
    )
    return Sealed(seal(document, report, signer), report, signer)


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer(Account.from_key(KEY))


@pytest.fixture
def sealed(signer: Signer) -> Sealed:
    return make_sealed(signer)
