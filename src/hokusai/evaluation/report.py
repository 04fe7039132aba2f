"""The companion evaluation report: the statistical evidence behind an attestation.

It holds what the attestation schema has no place for: the task and the primary metric's family, the
outcome and its reason code (with the guardrails, the cooldown and the benchmark's power), every
metric's gain in its delta units with its paired interval and method (and, for regression, the paired
t and Wilcoxon tests), sample sizes, what happened to each contribution's rows
(exact and near duplicates), each contribution's value with its standard error, how values and
weights were derived (``valuation``: method, retrains, noise floor, efficiency), the weight
commitments of the baseline and candidate artifacts (the contract's lineage), and the run
options. Its canonical hash is a leaf of the hash tree,
so it cannot be changed without breaking the attestation. No timestamps: same run, same report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from hokusai.evaluation.attribution import Attribution
from hokusai.evaluation.compare import MetricComparison
from hokusai.evaluation.decision import POWER, Decision
from hokusai.evaluation.families import METRIC_INFO
from hokusai.evaluation.integrate import ContributionRows
from hokusai.evaluation.neardup import NearDuplicateRule

REPORT_VERSION = "3"
EVALUATION = "evaluation"
PREVIEW = "preview_estimate"


def _metric(c: MetricComparison) -> dict[str, Any]:
    ci, gain_ci = c.ci_pp, c.gain_interval
    return {
        "baseline": c.baseline,
        "candidate": c.candidate,
        "family": c.info.family.value,
        "higher_is_better": c.info.higher_is_better,
        "unit": c.info.unit,
        "gain": c.gain,
        "ci_low": None if gain_ci is None else gain_ci[0],
        "ci_high": None if gain_ci is None else gain_ci[1],
        "delta_pp": c.delta_pp,
        "ci_low_pp": None if ci is None else ci[0],
        "ci_high_pp": None if ci is None else ci[1],
        "interval_method": None if c.interval is None else c.interval.method,
    }


def _outcome(decision: Decision, options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "reason": decision.reason.value,
        "reason_text": decision.explanation,
        "accepted": decision.accepted,
        "delta_one_score": decision.delta_one_score,
        "primary_metric": decision.primary_metric,
        "unit": decision.unit,
        "gain": decision.gain,
        "ci_low": decision.ci_low,
        "ci_high": decision.ci_high,
        "delta_pp": decision.delta_pp,
        "ci_low_pp": decision.ci_low_pp,
        "ci_high_pp": decision.ci_high_pp,
        "confidence": options.get("confidence"),
        "threshold": decision.threshold,
        "threshold_pp": decision.threshold_pp,
        "min_benchmark_rows": decision.min_benchmark_rows,
        "benchmark_rows": decision.benchmark_rows,
        "guardrails": [{**asdict(g), "violated": g.violated} for g in decision.guardrails],
        "cooldown_left_seconds": decision.cooldown_left_seconds,
        "minimum_detectable_effect": decision.minimum_detectable_effect,
        "power": POWER,
    }


def build_report(
    *,
    kind: str,
    run_id: str,
    decision: Decision,
    comparisons: Mapping[str, MetricComparison],
    task: Any,
    task_kind: str,
    options: Mapping[str, Any],
    samples: Mapping[str, Any],
    contributions: Sequence[Mapping[str, Any]],
    rows: Sequence[ContributionRows],
    attribution: Attribution | None,
    near_duplicates: NearDuplicateRule | None,
    tests: Mapping[str, Any] | None = None,
    commitments: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The report as a JSON-ready dict (``contributions``: wallet and data hash per contribution)."""
    return {
        "report_version": REPORT_VERSION,
        "kind": kind,
        "pipeline_run_id": run_id,
        "task": task_kind,
        "metric_family": None
        if decision.primary_metric not in METRIC_INFO
        else METRIC_INFO[decision.primary_metric].family.value,
        "outcome": _outcome(decision, options),
        "metrics": {name: _metric(c) for name, c in comparisons.items()},
        "paired_tests": None if tests is None else dict(tests),
        "averaging": task.averaging,
        "classes": [str(c) for c in task.classes],
        "samples": dict(samples),
        "weight_commitments": None if commitments is None else dict(commitments),
        "contributions": [
            {
                **dict(contribution),
                "rows": asdict(row),
                "player": attribution is not None and attribution.players[i],
                "value_pp": None if attribution is None else attribution.values_pp[i],
                "value_se_pp": None if attribution is None else attribution.stderr_pp[i],
                "weight_bps": 0 if attribution is None else attribution.weights.bps[i],
                "valuation": None if attribution is None else attribution.contribution(i),
            }
            for i, (contribution, row) in enumerate(zip(contributions, rows, strict=True))
        ],
        "weights_method": None if attribution is None else attribution.weights.method.value,
        "valuation": None if attribution is None else attribution.report(),
        "near_duplicates": None if near_duplicates is None else near_duplicates.describe(),
        "options": dict(options),
    }
