"""The evidence people would rather look at: ROC curves, delta bars with intervals, confusion matrices.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot state, no display).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from hokusai.evaluation.compare import MetricComparison
from hokusai.evaluation.metrics import Predictions, Task, confusion
from hokusai.files import atomic_write_bytes

ROC_FILE = "roc_curves.png"
DELTAS_FILE = "metric_deltas.png"
CONFUSION_FILE = "confusion_matrices.png"


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)  # attaches the Agg canvas: no display, no pyplot
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return atomic_write_bytes(path, buffer.getvalue())


def _roc_points(y: np.ndarray, scores: np.ndarray, task: Task) -> tuple[np.ndarray, np.ndarray]:
    if task.binary:
        fpr, tpr, _ = roc_curve(y == 1, scores[:, 1])
    else:  # micro-average over the one-vs-rest problems
        onehot = np.eye(len(task.classes), dtype=bool)[y]
        fpr, tpr, _ = roc_curve(onehot.ravel(), scores.ravel())
    return fpr, tpr


def roc_figure(
    y: np.ndarray, baseline: Predictions, candidate: Predictions, task: Task, comparisons: Mapping
) -> Figure:
    figure = Figure(figsize=(5.5, 5))
    axes = figure.add_subplot()
    auroc = comparisons.get("auroc")
    for name, predictions, value in (
        ("baseline", baseline, auroc.baseline if auroc else None),
        ("candidate", candidate, auroc.candidate if auroc else None),
    ):
        fpr, tpr = _roc_points(y, predictions.scores, task)
        label = name if value is None else f"{name} (AUROC {value:.4f})"
        axes.plot(fpr, tpr, label=label, linewidth=1.6)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    kind = "" if task.binary else " (micro-average, one-vs-rest)"
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC curves{kind}")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def deltas_figure(comparisons: Mapping[str, MetricComparison], primary: str, threshold_pp: float) -> Figure:
    names = list(comparisons)
    deltas = np.array([comparisons[n].delta_pp for n in names])
    low = np.array([(comparisons[n].ci_pp or (d, d))[0] for n, d in zip(names, deltas, strict=True)])
    high = np.array([(comparisons[n].ci_pp or (d, d))[1] for n, d in zip(names, deltas, strict=True)])
    figure = Figure(figsize=(6.5, 0.6 * len(names) + 1.6))
    axes = figure.add_subplot()
    colors = ["tab:green" if d > 0 else "tab:red" for d in deltas]
    positions = np.arange(len(names))[::-1]
    axes.barh(positions, deltas, color=colors, alpha=0.75)
    axes.errorbar(
        deltas, positions, xerr=[deltas - low, high - deltas], fmt="none", ecolor="black", capsize=4
    )
    axes.axvline(0, color="black", linewidth=0.8)
    axes.axvline(
        threshold_pp, color="tab:blue", linestyle="--", linewidth=1, label=f"threshold {threshold_pp:g} pp"
    )
    axes.set_yticks(positions, [f"{n} (primary)" if n == primary else n for n in names])
    axes.set(xlabel="candidate - baseline (percentage points, 95 % paired interval)", title="Metric deltas")
    axes.legend(loc="best")
    figure.tight_layout()
    return figure


def confusion_figure(y: np.ndarray, baseline: Predictions, candidate: Predictions, task: Task) -> Figure:
    k = len(task.classes)
    figure = Figure(figsize=(10, 4.6))
    for position, (name, predictions) in enumerate((("baseline", baseline), ("candidate", candidate)), 1):
        matrix = confusion(y, predictions.labels, k)
        axes = figure.add_subplot(1, 2, position)
        axes.imshow(matrix, cmap="Blues")
        if k <= 20:
            for (row, col), count in np.ndenumerate(matrix):
                color = "white" if count > matrix.max() / 2 else "black"
                axes.text(col, row, str(count), ha="center", va="center", color=color, fontsize=9)
        ticks = np.arange(k)
        labels = [str(c) for c in task.classes]
        axes.set_xticks(ticks, labels, rotation=45 if k > 4 else 0)
        axes.set_yticks(ticks, labels)
        axes.set(xlabel="predicted", ylabel="true", title=f"{name} confusion matrix")
    figure.tight_layout()
    return figure


def write_plots(
    directory: Path,
    y: np.ndarray,
    baseline: Predictions,
    candidate: Predictions,
    task: Task,
    comparisons: Mapping[str, MetricComparison],
    *,
    primary: str,
    threshold_pp: float,
) -> list[Path]:
    """Draw the three figures into ``directory``; returns their paths."""
    return [
        _save(roc_figure(y, baseline, candidate, task, comparisons), directory / ROC_FILE),
        _save(deltas_figure(comparisons, primary, threshold_pp), directory / DELTAS_FILE),
        _save(confusion_figure(y, baseline, candidate, task), directory / CONFUSION_FILE),
    ]
