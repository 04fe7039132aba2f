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

Payouts (``payable_bps``, the one rule, also applied by ``hokusai attest verify``): only an accepted run
pays; a run that is not a DeltaOne keeps its contributions' values for the record and signs 0 bps for
everyone (``payout`` says why). Each contribution says whether it is paid and why (``paid``, ``reason``:
``REASONS``); one that failed validation is ``excluded`` with the validation's reason and findings.
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
from hokusai.evaluation.weights import Reason

REPORT_VERSION = "4"
EVALUATION = "evaluation"
PREVIEW = "preview_estimate"
REASONS = {
    Reason.PAID.value: "its value minus twice its standard error is above zero: paid in proportion to it",
    Reason.EQUAL.value: "no value cleared its error in an accepted run: the harmless ones share equally",
    "excluded": "it failed validation and was not evaluated",
    Reason.NO_ROWS.value: "no row of it survived integration (empty, or copies of rows already present)",
    "not_accepted": "the run is not a DeltaOne: nothing is paid, values are kept for the record",
    Reason.HARMFUL.value: "its value is below zero: it made the model worse",
    Reason.NOISE.value: "its value is not distinguishable from zero (within twice its standard error)",
    Reason.NO_VALUE.value: "it has no value to pay for",
}
"""Why a contribution is (``distinguishable_gain``, ``inconclusive_equal_split``) or is not paid: the
valuation's reasons (``weights.Reason``), and the two the run adds (``excluded``, ``not_accepted``)."""


def payable_bps(bps: Sequence[int], accepted: bool) -> list[int]:
    """The weights an attestation signs: the valuation's basis points when the run is accepted, else all 0
    (a run that is not a DeltaOne pays nobody; its values stay in the report for the record)."""
    return [int(b) if accepted else 0 for b in bps]


def _payout(
    i: int, contribution: Mapping[str, Any], attribution: Attribution | None, accepted: bool, bps: int
) -> tuple[bool, str]:
    """Whether contribution ``i`` is paid and why (a reason of ``REASONS``)."""
    if contribution.get("excluded"):
        return False, "excluded"
    if attribution is None or not attribution.players[i]:
        return False, Reason.NO_ROWS.value
    if not accepted:
        return False, "not_accepted"
    return bps > 0, attribution.weights.reasons[i].value


def _method(attribution: Attribution | None, i: int) -> str | None:
    """``exact`` or ``estimated`` (sampled coalitions) for a valued contribution, else None."""
    if attribution is None or attribution.method is None or not attribution.players[i]:
        return None
    return "exact" if attribution.method.value in ("exact_shapley", "single_contributor") else "estimated"


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
    """The report as a JSON-ready dict (``contributions``: wallet and data hash per contribution, and
    ``excluded``, the validation's reason, for one that failed validation)."""
    accepted = decision.accepted
    signed = payable_bps(
        attribution.weights.bps if attribution is not None else [0] * len(contributions), accepted
    )
    entries = []
    for i, (contribution, row) in enumerate(zip(contributions, rows, strict=True)):
        paid, reason = _payout(i, contribution, attribution, accepted, signed[i])
        method = _method(attribution, i)
        entries.append(
            {
                **dict(contribution),
                "excluded": contribution.get("excluded"),
                "rows": asdict(row),
                "player": attribution is not None and attribution.players[i],
                "value_pp": None if attribution is None else attribution.values_pp[i],
                "value_se_pp": None if attribution is None else attribution.stderr_pp[i],
                "method": method,
                "retrains": None if method is None or attribution is None else attribution.retrains,
                "weight_bps": signed[i],
                "paid": paid,
                "reason": reason,
                "valuation": None if attribution is None else attribution.contribution(i),
            }
        )
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
        "contributions": entries,
        "excluded": sum(1 for c in contributions if c.get("excluded")),
        "payout": {
            "paid": accepted and any(signed),
            "reason": "accepted" if accepted else "not_accepted",
            "outcome": decision.reason.value,
        },
        "weights_method": None if attribution is None else attribution.weights.method.value,
        "valuation": None if attribution is None else attribution.report(),
        "near_duplicates": None if near_duplicates is None else near_duplicates.describe(),
        "options": dict(options),
    }
