"""Classification metrics computed from confusion matrices and rank placements, vectorised.

One implementation serves the point estimates and the bootstrap resamples, so the interval is
always about the very number that is reported. Conventions (they match scikit-learn):

* binary: precision, recall and F1 of the positive class, which is the greater label
  (``classes_[1]``); AUROC of the positive class's score.
* multiclass: precision, recall and F1 macro-averaged over every class either model knows or the
  benchmark contains (a class with no predictions or no support scores 0); AUROC one-vs-rest,
  macro-averaged over the classes that have both positives and negatives in the benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "auroc")
COUNT_METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1")


@dataclass(frozen=True)
class Task:
    """The label space of one comparison: every class in a fixed (sorted) order."""

    classes: tuple[Any, ...]

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @property
    def averaging(self) -> str:
        """How precision, recall, F1 and AUROC are averaged, in words for the report."""
        if self.binary:
            return f"binary (positive class {self.classes[1]!r})"
        return "macro (precision/recall/F1 over all classes; AUROC one-vs-rest)"

    def default_primary_metric(self) -> str:
        """AUROC for binary tasks, accuracy for multiclass ones."""
        return "auroc" if self.binary else "accuracy"

    def indices(self, labels: Any) -> np.ndarray:
        """Class indices of ``labels``; -1 for a label outside the task."""
        return pd.Index(self.classes).get_indexer(pd.Index(np.asarray(labels)))


def task_for(*label_sets: Sequence[Any]) -> Task:
    """The task spanning every label in ``label_sets`` (model ``classes_``, benchmark labels)."""
    labels: set[Any] = set()
    for values in label_sets:
        labels.update(_python(v) for v in pd.unique(np.asarray(values)))
    return Task(tuple(sorted(labels, key=lambda v: (str(type(v)), v))))


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class Predictions:
    """A model's output on the benchmark: predicted class indices and per-class scores (n, K)."""

    labels: np.ndarray
    scores: np.ndarray


def confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """The (k, k) confusion matrix, rows = true class, columns = predicted class."""
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(num, den).shape, dtype=float)
    np.divide(num, den, out=out, where=den > 0)
    return out


def count_metrics(cm: np.ndarray, binary: bool) -> dict[str, np.ndarray]:
    """Accuracy, precision, recall and F1 from confusion matrices of shape (..., K, K)."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    support = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    total = support.sum(axis=-1)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    if binary:
        pick = (precision[..., 1], recall[..., 1], f1[..., 1])
    else:
        pick = (precision.mean(axis=-1), recall.mean(axis=-1), f1.mean(axis=-1))
    return {
        "accuracy": _ratio(tp.sum(axis=-1), total),
        "precision": pick[0],
        "recall": pick[1],
        "f1": pick[2],
    }


def midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def placements(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: for each positive the share of negatives it outranks
    (ties count half), and for each negative the share of positives that outrank it."""
    all_ranks = midranks(scores)
    pos, neg = scores[positive], scores[~positive]
    v10 = (all_ranks[positive] - midranks(pos)) / len(neg)
    v01 = 1.0 - (all_ranks[~positive] - midranks(neg)) / len(pos)
    return v10, v01


def auroc_classes(y: np.ndarray, task: Task) -> list[int]:
    """Class indices AUROC is averaged over: the positive class, or every class with both sides."""
    candidates = [1] if task.binary else list(range(len(task.classes)))
    counts = np.bincount(y, minlength=len(task.classes))
    return [k for k in candidates if 0 < counts[k] < len(y)]


def auroc(y: np.ndarray, scores: np.ndarray, task: Task) -> float:
    """AUROC (binary) or macro one-vs-rest AUROC (multiclass); NaN when undefined."""
    classes = auroc_classes(y, task)
    if not classes:
        return float("nan")
    return float(np.mean([placements(scores[:, k], y == k)[0].mean() for k in classes]))


def compute_metrics(y: np.ndarray, predictions: Predictions, task: Task) -> dict[str, float]:
    """All five metrics of one model on the benchmark (``y`` as class indices)."""
    counts = count_metrics(confusion(y, predictions.labels, len(task.classes)), task.binary)
    values = {name: float(value) for name, value in counts.items()}
    values["auroc"] = auroc(y, predictions.scores, task)
    return values
