"""Evaluation: train the candidate, score both models, paired intervals, the DeltaOne decision, weights."""

from hokusai.evaluation.compare import MetricComparison, compare_models
from hokusai.evaluation.decision import Decision, Reason, decide
from hokusai.evaluation.metrics import METRICS, Predictions, Task
from hokusai.evaluation.weights import contributor_weights, largest_remainder

__all__ = [
    "METRICS",
    "Decision",
    "MetricComparison",
    "Predictions",
    "Reason",
    "Task",
    "compare_models",
    "contributor_weights",
    "decide",
    "largest_remainder",
]
