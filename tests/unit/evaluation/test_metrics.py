"""Metrics: the confusion-matrix and rank implementation equals scikit-learn's definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from hokusai.evaluation.metrics import Predictions, Task, auroc, compute_metrics, midranks, task_for


def _predictions(y: np.ndarray, k: int, signal: float, seed: int) -> Predictions:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(y), k))
    logits[np.arange(len(y)), y] += signal
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return Predictions(labels=scores.argmax(axis=1), scores=scores)


def test_binary_metrics_equal_scikit_learn_for_the_positive_class() -> None:
    y = np.random.default_rng(0).integers(0, 2, 1500)
    p = _predictions(y, 2, 1.0, 1)
    values = compute_metrics(y, p, Task((0, 1)))
    assert values["accuracy"] == pytest.approx(accuracy_score(y, p.labels), abs=1e-12)
    assert values["precision"] == pytest.approx(precision_score(y, p.labels), abs=1e-12)
    assert values["recall"] == pytest.approx(recall_score(y, p.labels), abs=1e-12)
    assert values["f1"] == pytest.approx(f1_score(y, p.labels), abs=1e-12)
    assert values["auroc"] == pytest.approx(roc_auc_score(y, p.scores[:, 1]), abs=1e-12)


def test_multiclass_metrics_are_macro_averages_equal_to_scikit_learn() -> None:
    y = np.random.default_rng(2).integers(0, 4, 2000)
    p = _predictions(y, 4, 0.8, 3)
    values = compute_metrics(y, p, Task((0, 1, 2, 3)))
    labels = [0, 1, 2, 3]
    assert values["precision"] == pytest.approx(precision_score(y, p.labels, average="macro", labels=labels))
    assert values["recall"] == pytest.approx(recall_score(y, p.labels, average="macro", labels=labels))
    assert values["f1"] == pytest.approx(f1_score(y, p.labels, average="macro", labels=labels))
    assert values["auroc"] == pytest.approx(roc_auc_score(y, p.scores, multi_class="ovr"), abs=1e-12)


def test_a_class_never_predicted_scores_zero_precision_not_an_error() -> None:
    y = np.array([0, 1, 2, 2])
    p = Predictions(labels=np.array([0, 1, 1, 1]), scores=np.eye(3)[[0, 1, 1, 1]])
    values = compute_metrics(y, p, Task((0, 1, 2)))
    assert values["precision"] == pytest.approx((1 + 1 / 3 + 0) / 3)


def test_tied_scores_count_half_in_auroc() -> None:
    y = np.array([0, 1])
    scores = np.array([[0.5, 0.5], [0.5, 0.5]])
    assert auroc(y, scores, Task((0, 1))) == 0.5


def test_auroc_is_undefined_when_the_benchmark_has_one_class() -> None:
    y = np.array([1, 1, 1])
    assert np.isnan(auroc(y, np.full((3, 2), 0.5), Task((0, 1))))


def test_midranks_average_tied_positions() -> None:
    assert midranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]


def test_task_spans_labels_of_models_and_benchmark_in_sorted_order() -> None:
    task = task_for(np.array([1, 0]), [2, 2, 0])
    assert task.classes == (0, 1, 2)
    assert not task.binary
    assert task.default_primary_metric() == "accuracy"
    assert task.indices(np.array([3, 2])).tolist() == [-1, 2]


def test_binary_task_defaults_to_auroc_and_names_its_positive_class() -> None:
    task = task_for(["no", "yes", "no"])
    assert task.default_primary_metric() == "auroc"
    assert "'yes'" in task.averaging
