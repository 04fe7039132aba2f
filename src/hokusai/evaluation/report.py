"""The companion evaluation report: the statistical evidence behind an attestation.

It holds what the attestation schema has no place for: the outcome and its reason code, every
metric's paired interval and method, sample sizes, what happened to each contribution's rows
(exact and near duplicates), each contribution's value with its standard error, how values and
weights were derived (``valuation``: method, retrains, noise floor, efficiency), and the run
options. Its canonical hash is a leaf of the hash tree,
so it cannot be changed without breaking the attestation. No timestamps: same run, same report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from hokusai.evaluation.attribution import Attribution
from hokusai.evaluation.compare import MetricComparison
from hokusai.evaluation.decision import Decision
from hokusai.evaluation.integrate import ContributionRows
from hokusai.evaluation.metrics import Task
from hokusai.evaluation.neardup import NearDuplicateRule

REPORT_VERSION = "2"
EVALUATION = "evaluation"
PREVIEW = "preview_estimate"


def _metric(c: MetricComparison) -> dict[str, Any]:
    ci = c.ci_pp
    return {
        "baseline": c.baseline,
        "candidate": c.candidate,
        "delta_pp": c.delta_pp,
        "ci_low_pp": None if ci is None else ci[0],
        "ci_high_pp": None if ci is None else ci[1],
        "interval_method": None if c.interval is None else c.interval.method,
    }


def build_report(
    *,
    kind: str,
    run_id: str,
    decision: Decision,
    comparisons: Mapping[str, MetricComparison],
    task: Task,
    options: Mapping[str, Any],
    samples: Mapping[str, Any],
    contributions: Sequence[Mapping[str, Any]],
    rows: Sequence[ContributionRows],
    attribution: Attribution | None,
    near_duplicates: NearDuplicateRule | None,
) -> dict[str, Any]:
    """The report as a JSON-ready dict (``contributions``: wallet and data hash per contribution)."""
    return {
        "report_version": REPORT_VERSION,
        "kind": kind,
        "pipeline_run_id": run_id,
        "outcome": {
            "reason": decision.reason.value,
            "accepted": decision.accepted,
            "delta_one_score": decision.delta_one_score,
            "primary_metric": decision.primary_metric,
            "delta_pp": decision.delta_pp,
            "ci_low_pp": decision.ci_low_pp,
            "ci_high_pp": decision.ci_high_pp,
            "confidence": options.get("confidence"),
            "threshold_pp": decision.threshold_pp,
            "min_benchmark_rows": decision.min_benchmark_rows,
            "benchmark_rows": decision.benchmark_rows,
        },
        "metrics": {name: _metric(c) for name, c in comparisons.items()},
        "averaging": task.averaging,
        "classes": [str(c) for c in task.classes],
        "samples": dict(samples),
        "contributions": [
            {
                **dict(contribution),
                "rows": asdict(row),
                "player": attribution is not None and attribution.players[i],
                "value_pp": None if attribution is None else attribution.values_pp[i],
                "value_se_pp": None if attribution is None else attribution.stderr_pp[i],
                "weight_bps": 0 if attribution is None else attribution.weights.bps[i],
            }
            for i, (contribution, row) in enumerate(zip(contributions, rows, strict=True))
        ],
        "weights_method": None if attribution is None else attribution.weights.method.value,
        "valuation": None if attribution is None else attribution.report(),
        "near_duplicates": None if near_duplicates is None else near_duplicates.describe(),
        "options": dict(options),
    }
