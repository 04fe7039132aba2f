"""The evidence people would rather look at: ROC curves, gain bars with intervals, confusion matrices;
for regression, residuals and predicted against actual values.

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
from hokusai.evaluation.regression import RegressionTask
from hokusai.files import atomic_write_bytes

ROC_FILE = "roc_curves.png"
DELTAS_FILE = "metric_deltas.png"
CONFUSION_FILE = "confusion_matrices.png"
RESIDUALS_FILE = "residuals.png"
PREDICTED_FILE = "predicted_vs_actual.png"
DPI = 110
CONFUSION_FONT = 12  # points: 18 px in the 1100 px wide image, shown across the run page's row (≤ 1100 px)


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)  # attaches the Agg canvas: no display, no pyplot
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
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


def deltas_figure(comparisons: Mapping[str, MetricComparison], primary: str, threshold: float) -> Figure:
    """Each metric's gain (candidate better is right) with its paired interval, in its delta units; the
    threshold line is in the primary metric's units."""
    names = list(comparisons)
    gains = np.array([comparisons[n].gain for n in names])
    bounds = [comparisons[n].gain_interval or (g, g) for n, g in zip(names, gains, strict=True)]
    low, high = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    figure = Figure(figsize=(6.5, 0.6 * len(names) + 1.6))
    axes = figure.add_subplot()
    colors = ["tab:green" if g > 0 else "tab:red" for g in gains]
    positions = np.arange(len(names))[::-1]
    axes.barh(positions, gains, color=colors, alpha=0.75)
    axes.errorbar(gains, positions, xerr=[gains - low, high - gains], fmt="none", ecolor="black", capsize=4)
    axes.axvline(0, color="black", linewidth=0.8)
    unit = comparisons[primary].info.unit if primary in comparisons else "pp"
    axes.axvline(
        threshold, color="tab:blue", linestyle="--", linewidth=1, label=f"threshold {threshold:g} {unit}"
    )
    axes.set_yticks(positions, [f"{n} (primary, {comparisons[n].info.unit})" if n == primary
                                else f"{n} ({comparisons[n].info.unit})" for n in names])  # fmt: skip
    axes.set(xlabel="gain: candidate better to the right (95 % paired interval)", title="Metric gains")
    axes.legend(loc="best")
    figure.tight_layout()
    return figure


def residuals_figure(y: np.ndarray, baseline: np.ndarray, candidate: np.ndarray) -> Figure:
    """Residuals (prediction - truth) of both models against the truth."""
    figure = Figure(figsize=(10, 4.2))
    for position, (name, values) in enumerate((("baseline", baseline), ("candidate", candidate)), 1):
        axes = figure.add_subplot(1, 2, position)
        axes.scatter(y, values - y, s=8, alpha=0.5, color="tab:gray" if position == 1 else "tab:blue")
        axes.axhline(0, color="black", linewidth=0.8)
        axes.set(xlabel="true value", ylabel="prediction - truth", title=f"{name} residuals")
    figure.tight_layout()
    return figure


def predicted_figure(y: np.ndarray, baseline: np.ndarray, candidate: np.ndarray) -> Figure:
    """Predicted against actual values of both models, with the identity line."""
    figure = Figure(figsize=(5.5, 5.2))
    axes = figure.add_subplot()
    axes.scatter(y, baseline, s=8, alpha=0.5, color="tab:gray", label="baseline")
    axes.scatter(y, candidate, s=8, alpha=0.5, color="tab:blue", label="candidate")
    ends = [float(np.min(y)), float(np.max(y))]
    axes.plot(ends, ends, color="black", linewidth=0.8)
    axes.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual")
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
                axes.text(
                    col, row, str(count), ha="center", va="center", color=color, fontsize=CONFUSION_FONT
                )
        ticks = np.arange(k)
        labels = [str(c) for c in task.classes]
        axes.set_xticks(ticks, labels, rotation=45 if k > 4 else 0)
        axes.set_yticks(ticks, labels)
        axes.tick_params(labelsize=CONFUSION_FONT)
        axes.set_xlabel("predicted", fontsize=CONFUSION_FONT)
        axes.set_ylabel("true", fontsize=CONFUSION_FONT)
        axes.set_title(f"{name} confusion matrix", fontsize=CONFUSION_FONT + 1)
    figure.tight_layout()
    return figure


def write_plots(
    directory: Path,
    y: np.ndarray,
    baseline: Predictions | np.ndarray,
    candidate: Predictions | np.ndarray,
    task: Task | RegressionTask,
    comparisons: Mapping[str, MetricComparison],
    *,
    primary: str,
    threshold: float,
) -> list[Path]:
    """Draw the task's figures into ``directory`` (classification: ROC curves, gains, confusion matrices;
    regression: residuals, predicted vs actual, gains); returns their paths."""
    gains = _save(deltas_figure(comparisons, primary, threshold), directory / DELTAS_FILE)
    if isinstance(task, RegressionTask):
        assert isinstance(baseline, np.ndarray) and isinstance(candidate, np.ndarray)
        return [
            _save(residuals_figure(y, baseline, candidate), directory / RESIDUALS_FILE),
            _save(predicted_figure(y, baseline, candidate), directory / PREDICTED_FILE),
            gains,
        ]
    assert isinstance(baseline, Predictions) and isinstance(candidate, Predictions)
    return [
        _save(roc_figure(y, baseline, candidate, task, comparisons), directory / ROC_FILE),
        gains,
        _save(confusion_figure(y, baseline, candidate, task), directory / CONFUSION_FILE),
    ]
