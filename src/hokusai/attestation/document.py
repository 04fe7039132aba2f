"""Build the attestation document (zk_output_schema v1) and seal it: hash tree root, public-inputs
hash and the signer's EIP-712 signature (under the domain the report records, see ``signing``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hokusai._version import __version__
from hokusai.attestation.content import hash_tree_root, public_inputs_hash
from hokusai.attestation.schema import SCHEMA_VERSION, schema_errors
from hokusai.attestation.signing import REPORT_FIELD, Signer, recorded_domain
from hokusai.errors import InvalidInput
from hokusai.evaluation.compare import MetricComparison
from hokusai.evaluation.decision import COMPUTATION_METHOD, Decision
from hokusai.evaluation.weights import TOTAL_BPS


@dataclass(frozen=True)
class ModelEntry:
    """One model as the document describes it."""

    model_id: str
    model_type: str
    model_hash: str
    training_config_hash: str
    training_metadata: dict[str, Any]
    mlflow_run_id: str | None = None

    def section(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "model_type": self.model_type,
            "model_hash": self.model_hash,
            "mlflow_run_id": self.mlflow_run_id,
            "training_config_hash": self.training_config_hash,
            "training_metadata": self.training_metadata,
        }


@dataclass(frozen=True)
class ContributorEntry:
    """One contribution: who, which data, how many rows survived, what weight it earned, and whether it
    passed validation (one that did not is listed, excluded: ``validation_status`` ``invalid``, weight 0)."""

    wallet: str
    data_hash: str
    data_manifest: dict[str, Any]
    weight_bps: int
    rows_used: int
    valid: bool = True


@dataclass(frozen=True)
class BenchmarkEntry:
    name: str
    rows: int
    dataset_hash: str
    features: list[str] = field(default_factory=list)


def _metric_delta(c: MetricComparison) -> dict[str, Any]:
    return {
        "baseline_value": c.baseline,
        "new_value": c.candidate,
        "absolute_delta": c.delta,
        "relative_delta": c.relative_delta,
        "improvement": c.improvement,
    }


def build_document(
    *,
    run_id: str,
    environment: str,
    timestamp: str,
    comparisons: Mapping[str, MetricComparison],
    decision: Decision,
    metric_weights: Mapping[str, float],
    benchmark: BenchmarkEntry,
    baseline: ModelEntry,
    candidate: ModelEntry,
    contributors: Sequence[ContributorEntry],
    evaluation_seconds: float,
) -> dict[str, Any]:
    """The document without its ``attestation`` section (see :func:`seal`)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "metadata": {
            "pipeline_run_id": run_id,
            "timestamp": timestamp,
            "pipeline_version": __version__,
            "environment": environment,
            "dry_run": False,
        },
        "evaluation_results": {
            "baseline_metrics": {name: c.baseline for name, c in comparisons.items()},
            "new_metrics": {name: c.candidate for name, c in comparisons.items()},
            "benchmark_metadata": {
                "size": benchmark.rows,
                "type": benchmark.name,
                "features": list(benchmark.features),
                "dataset_hash": benchmark.dataset_hash,
            },
            "evaluation_timestamp": timestamp,
            "evaluation_time_seconds": round(evaluation_seconds, 3),
        },
        "delta_computation": {
            "delta_one_score": decision.delta_one_score,
            "metric_deltas": {name: _metric_delta(c) for name, c in comparisons.items()},
            "computation_method": COMPUTATION_METHOD,
            "metrics_included": sorted(name for name, w in metric_weights.items() if w > 0),
            "improved_metrics": [name for name, c in comparisons.items() if c.delta > 0],
            "degraded_metrics": [name for name, c in comparisons.items() if c.delta < 0],
        },
        "models": {"baseline": baseline.section(), "new": candidate.section()},
        "contributors": [
            {
                "id": f"contribution-{i}",
                "data_hash": c.data_hash,
                "data_manifest": c.data_manifest,
                "weight": c.weight_bps / TOTAL_BPS,
                "contributed_samples": c.rows_used,
                "validation_status": "valid" if c.valid else "invalid",
                "wallet_address": c.wallet,
            }
            for i, c in enumerate(contributors, 1)
        ],
    }


Sealer = Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
"""Turns an unsigned document and its report into the sealed document: ``seal`` with a local signer, or
the platform's signing endpoint (a run worker holds no key)."""


def local_sealer(signer: Signer) -> Sealer:
    """A ``Sealer`` that signs in this process with ``signer``."""
    return lambda document, report: seal(document, report, signer)


def seal(document: Mapping[str, Any], report: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """The document with its ``attestation`` section; raises if the result breaks the schema.

    ``report`` must record the signer's domain (``signing.bind_domain``): the verifier reads it there.
    """
    recorded = recorded_domain(report)
    if recorded != signer.domain:
        raise InvalidInput(
            f"the report's {REPORT_FIELD} {recorded} is not the signer's domain {signer.domain}",
            code="domain_mismatch",
        )
    root = hash_tree_root(document, report)
    inputs_hash = public_inputs_hash(document, root)
    run_id = document["metadata"]["pipeline_run_id"]
    sealed = dict(document)
    sealed["attestation"] = {
        "hash_tree_root": root,
        "proof_ready": True,
        "signature_blob": signer.sign(run_id, root, inputs_hash),
        "verification_key": signer.address,
        "proof_system": "ecdsa",
        "circuit_hash": None,
        "public_inputs_hash": inputs_hash,
    }
    errors = schema_errors(sealed)
    if errors:  # a bug, not bad input: never emit a document the verifier would reject
        raise RuntimeError(f"attestation breaks {SCHEMA_VERSION} schema: {errors}")
    return sealed
