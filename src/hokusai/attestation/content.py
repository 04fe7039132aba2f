"""What an attestation commits to: the signed view, the hash tree leaves, the public inputs, the run id.

The builder and the verifier both call these functions, so there is one definition of each.

* Signed view: the document without ``attestation`` and without the fields that differ between
  two runs of the same evaluation: timestamps, durations and MLflow ids (``UNSIGNED``).
* Leaves, in this order (each a SHA-256 hex digest): baseline model, candidate model, base
  training data, benchmark, each contribution (in order), the canonical JSON (RFC 8785) of the
  header (schema version + metadata), evaluation_results, delta_computation, models and
  contributors sections of the signed view, and the canonical JSON of the evaluation report.
* Public inputs: run id, root, model/benchmark hashes, DeltaOne score, contributors' wallets,
  data hashes and weights in basis points; ``public_inputs_hash`` is their canonical JSON's SHA-256.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hokusai.attestation.merkle import merkle_root
from hokusai.hashing import canonical_hash

UNSIGNED: dict[tuple[str, ...], tuple[str, ...]] = {
    ("metadata",): ("timestamp",),
    ("evaluation_results",): ("evaluation_timestamp", "evaluation_time_seconds"),
    ("models", "baseline"): ("model_id", "mlflow_run_id"),
    ("models", "new"): ("model_id", "mlflow_run_id"),
}
SECTIONS = ("evaluation_results", "delta_computation", "models", "contributors")
RUN_ID_PREFIX = "hk-"


@dataclass(frozen=True)
class Leaf:
    """One hash tree leaf: what it is and its SHA-256 hex digest."""

    name: str
    hash: str


def signed_view(document: Mapping[str, Any]) -> dict[str, Any]:
    """The part of the document that is hashed and signed."""
    view = copy.deepcopy({k: v for k, v in document.items() if k != "attestation"})
    for path, fields in UNSIGNED.items():
        node: Any = view
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            for field in fields:
                node.pop(field, None)
    return view


def leaves(document: Mapping[str, Any], report: Mapping[str, Any]) -> list[Leaf]:
    """The hash tree leaves of ``document`` and its companion evaluation ``report``, in order."""
    view = signed_view(document)
    models = view["models"]
    result = [
        Leaf("model:baseline", models["baseline"]["model_hash"]),
        Leaf("model:candidate", models["new"]["model_hash"]),
        Leaf("data:train", models["baseline"]["training_metadata"]["data_manifest"]["data_hash"]),
        Leaf("data:benchmark", view["evaluation_results"]["benchmark_metadata"]["dataset_hash"]),
    ]
    result += [Leaf(f"data:contribution:{i}", c["data_hash"]) for i, c in enumerate(view["contributors"], 1)]
    header = {"schema_version": view["schema_version"], "metadata": view["metadata"]}
    result.append(Leaf("section:header", canonical_hash(header)))
    result += [Leaf(f"section:{name}", canonical_hash(view[name])) for name in SECTIONS]
    result.append(Leaf("report:evaluation", canonical_hash(dict(report))))
    return result


def hash_tree_root(document: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """The Merkle root over :func:`leaves`."""
    return merkle_root([leaf.hash for leaf in leaves(document, report)])


def public_inputs(document: Mapping[str, Any], root: str) -> dict[str, Any]:
    """The values an on-chain verifier needs, all taken from the document."""
    models = document["models"]
    return {
        "pipeline_run_id": document["metadata"]["pipeline_run_id"],
        "hash_tree_root": root,
        "baseline_model_hash": models["baseline"]["model_hash"],
        "candidate_model_hash": models["new"]["model_hash"],
        "benchmark_hash": document["evaluation_results"]["benchmark_metadata"]["dataset_hash"],
        "delta_one_score": document["delta_computation"]["delta_one_score"],
        "contributors": [
            {
                "wallet": c["wallet_address"],
                "data_hash": c["data_hash"],
                "weight_bps": round(c["weight"] * 10_000),
            }
            for c in document["contributors"]
        ],
    }


def public_inputs_hash(document: Mapping[str, Any], root: str) -> str:
    """SHA-256 of the canonical JSON of :func:`public_inputs`."""
    return canonical_hash(public_inputs(document, root))


def run_identity(
    *,
    baseline_model_hash: str,
    train_hash: str,
    benchmark_hash: str,
    contributions: Sequence[tuple[str, str]],
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything that defines an evaluation: input hashes, (data hash, wallet) pairs and options."""
    return {
        "baseline_model_hash": baseline_model_hash,
        "train_hash": train_hash,
        "benchmark_hash": benchmark_hash,
        "contributions": [{"data_hash": h, "wallet": w} for h, w in contributions],
        "options": dict(options),
    }


def pipeline_run_id(identity: Mapping[str, Any]) -> str:
    """``hk-`` + 32 hex digits of the identity's canonical hash: same evaluation, same id."""
    return RUN_ID_PREFIX + canonical_hash(dict(identity))[:32]


def identity_of(document: Mapping[str, Any], report: Mapping[str, Any]) -> dict[str, Any]:
    """The run identity recomputed from an attestation and its report (for verification)."""
    models = document["models"]
    return run_identity(
        baseline_model_hash=models["baseline"]["model_hash"],
        train_hash=models["baseline"]["training_metadata"]["data_manifest"]["data_hash"],
        benchmark_hash=document["evaluation_results"]["benchmark_metadata"]["dataset_hash"],
        contributions=[(c["data_hash"], c["wallet_address"]) for c in document["contributors"]],
        options=report["options"],
    )
