"""Metric families: for every metric, its family, which way is better, the units of its delta, how its
paired interval is computed, and the tasks it applies to. One table; the decision, the report, the plots
and the docs read it.

* **proportion** metrics (accuracy, precision, recall, F1) are shares in [0, 1]; their deltas are in
  percentage points (pp); their intervals are the paired bootstrap over benchmark rows.
* **rank** metrics (AUROC) are also in [0, 1] with deltas in pp; DeLong's paired interval.
* **continuous** metrics (RMSE, MAE, R2) are in the target's own units (R2 unitless); their deltas are in
  those units; paired bootstrap over benchmark rows (with a paired t and a Wilcoxon signed-rank test on
  the per-row losses reported beside it).

A metric's **gain** is its improvement: candidate - baseline when higher is better, baseline - candidate
when lower is better, so a positive gain is always better. The DeltaOne threshold and the guardrails'
allowed drops are in the metric's delta units.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from hokusai.errors import InvalidInput

TaskKind = Literal["binary", "multiclass", "regression"]
MetricName = Literal["accuracy", "precision", "recall", "f1", "auroc", "rmse", "mae", "r2"]
TASKS: tuple[TaskKind, ...] = ("binary", "multiclass", "regression")
CLASSIFICATION: tuple[TaskKind, ...] = ("binary", "multiclass")


class Family(StrEnum):
    PROPORTION = "proportion"
    RANK = "rank"
    CONTINUOUS = "continuous"


@dataclass(frozen=True)
class MetricInfo:
    """What one metric is."""

    name: str
    family: Family
    higher_is_better: bool
    tasks: tuple[TaskKind, ...]
    interval: str  # "paired_bootstrap" | "delong"
    description: str

    @property
    def in_pp(self) -> bool:
        """Deltas in percentage points (shares), else in the metric's own units."""
        return self.family in (Family.PROPORTION, Family.RANK)

    @property
    def unit(self) -> str:
        return "pp" if self.in_pp else self.name

    def units(self, value: float) -> float:
        """A difference of this metric in its delta units (pp for shares)."""
        return value * 100.0 if self.in_pp else value


_B, _D = "paired_bootstrap", "delong"
METRIC_INFO: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("accuracy", Family.PROPORTION, True, TASKS, _B,
                   "share of correct predictions (regression: within the spec's tolerance of the truth)"),
        MetricInfo("precision", Family.PROPORTION, True, CLASSIFICATION, _B, "of the positive class (macro)"),
        MetricInfo("recall", Family.PROPORTION, True, CLASSIFICATION, _B, "of the positive class (macro)"),
        MetricInfo("f1", Family.PROPORTION, True, CLASSIFICATION, _B, "of the positive class (macro)"),
        MetricInfo("auroc", Family.RANK, True, CLASSIFICATION, _D, "area under the ROC curve (one-vs-rest)"),
        MetricInfo("rmse", Family.CONTINUOUS, False, ("regression",), _B, "root mean squared error"),
        MetricInfo("mae", Family.CONTINUOUS, False, ("regression",), _B, "mean absolute error"),
        MetricInfo("r2", Family.CONTINUOUS, True, ("regression",), _B, "coefficient of determination"),
    )
}  # fmt: skip
DEFAULT_PRIMARY: dict[TaskKind, str] = {"binary": "auroc", "multiclass": "accuracy", "regression": "rmse"}


def metric(name: str, task: TaskKind | None = None) -> MetricInfo:
    """The metric called ``name`` (for ``task``, when given), or a clear error naming the choices."""
    info = METRIC_INFO.get(name)
    if info is None or (task is not None and task not in info.tasks):
        choices = [m for m, i in METRIC_INFO.items() if task is None or task in i.tasks]
        where = f" for a {task} task" if task else ""
        raise InvalidInput(
            f"unknown metric {name!r}{where}; choose from {', '.join(choices)}", code="bad_metric"
        )
    return info


def metrics_for(task: TaskKind) -> tuple[str, ...]:
    """Every metric computed for ``task``, in table order."""
    return tuple(name for name, info in METRIC_INFO.items() if task in info.tasks)
