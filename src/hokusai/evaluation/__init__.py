"""Evaluation: train, score, paired intervals, the DeltaOne decision, contributor valuation and weights."""

from hokusai.evaluation.compare import MetricComparison, compare_models
from hokusai.evaluation.decision import Decision, Reason, decide
from hokusai.evaluation.metrics import METRICS, Predictions, Task
from hokusai.evaluation.weights import largest_remainder, weights_from_values

__all__ = [
    "METRICS",
    "Decision",
    "MetricComparison",
    "Predictions",
    "Reason",
    "Task",
    "compare_models",
    "decide",
    "largest_remainder",
    "weights_from_values",
]
