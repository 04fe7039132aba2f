"""Evaluation: train, score, paired intervals, the DeltaOne decision, contributor valuation and weights.

The names load on first use (PEP 562), so importing a light submodule (``evaluation.families``) does not
import numpy, pandas and scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "MetricComparison": "compare", "compare_models": "compare", "Decision": "decision", "Reason": "decision",
    "decide": "decision", "METRICS": "metrics", "Predictions": "metrics", "Task": "metrics",
    "largest_remainder": "weights", "weights_from_values": "weights",
}  # fmt: skip
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"hokusai.evaluation.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'hokusai.evaluation' has no attribute {name!r}")
