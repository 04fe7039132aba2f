"""Train the candidate (a seeded clone of the baseline) and score a model on the benchmark."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier

from hokusai.errors import InvalidData, InvalidInput
from hokusai.evaluation.metrics import Predictions, Task
from hokusai.hashing import canonical_hash


def check_classifier(estimator: Any, where: str) -> None:
    """A clear error unless ``estimator`` is a fitted scikit-learn-compatible classifier."""
    kind = type(estimator).__name__
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict") and hasattr(estimator, "get_params")):
        raise InvalidInput(f"{where} holds a {kind}, not a scikit-learn-compatible estimator")
    if not is_classifier(estimator):
        raise InvalidInput(
            f"{where} holds a {kind}, which is not a classifier: evaluate a regressor with --task regression",
            code="not_a_classifier",
        )
    if not hasattr(estimator, "classes_"):
        raise InvalidInput(f"{where} holds an unfitted {kind}: the baseline must be a trained model")
    if not (hasattr(estimator, "predict_proba") or hasattr(estimator, "decision_function")):
        raise InvalidInput(f"{where} holds a {kind} without predict_proba or decision_function (for AUROC)")


def task_of(estimator: Any, where: str, declared: str | None, primary_metric: str | None) -> str | None:
    """The task a baseline is evaluated as, checked against the model and the primary metric: the
    declared one (``--task``), else the model's (a regressor: ``regression``; a classifier: None, binary
    or multiclass read off the labels). A classifier with a regression metric (or a regressor with a
    classification-only one) is refused naming ``--task``."""
    from sklearn.base import is_regressor

    from hokusai.evaluation.families import METRIC_INFO

    task = declared or ("regression" if is_regressor(estimator) else None)
    if task == "regression":
        check_regressor(estimator, where)
    else:
        check_classifier(estimator, where)
    info = METRIC_INFO.get(primary_metric or "")
    if info is not None and (task or "binary") not in info.tasks:
        kind = type(estimator).__name__
        if task == "regression":
            fix = "a classification metric is for a classifier (--task binary or multiclass)"
            said = f"a regressor (the task is regression), but {info.name} is a classification metric"
        else:
            fix = "a regression metric is for a regressor (--task regression)"
            said = f"a classifier, but {info.name} is a regression metric"
        raise InvalidInput(
            f"{where} holds a {kind}, {said}: choose another --primary-metric; {fix}", code="task_mismatch"
        )
    return task


def feature_columns(estimator: Any, columns: Sequence[str], target: str) -> list[str]:
    """The features the baseline was fitted on, or every column except the target."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return [c for c in columns if c != target]
    features = [str(n) for n in names]
    missing = [f for f in features if f not in columns]
    if missing:
        raise InvalidData(
            f"the data lacks features the baseline was trained on: {missing}", code="schema_mismatch"
        )
    return features


def seeded_clone(estimator: Any, seed: int) -> Any:
    """An unfitted copy with the same hyper-parameters and every ``random_state`` set to ``seed``."""
    fresh = clone(estimator)
    seeds = {name: seed for name in fresh.get_params(deep=True) if name.split("__")[-1] == "random_state"}
    if seeds:
        fresh.set_params(**seeds)
    return fresh


def fit(estimator: Any, frame: pd.DataFrame, features: Sequence[str], target: str) -> Any:
    """Fit ``estimator`` on ``frame``; a data problem (NaN, text in numbers) becomes InvalidData."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter belongs to the model owner
            return estimator.fit(frame[list(features)], frame[target].to_numpy())
    except (ValueError, TypeError) as exc:
        raise InvalidData(f"training {type(estimator).__name__} failed on this data: {exc}") from None


def training_config_hash(estimator: Any) -> str:
    """SHA-256 of the estimator's class and hyper-parameters (canonical JSON of their reprs)."""
    params = {name: repr(value) for name, value in estimator.get_params(deep=False).items()}
    return canonical_hash({"estimator": _class_path(estimator), "params": params})


def model_type(estimator: Any) -> str:
    """``module.Class`` of the estimator; for a Pipeline, of its final step too."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else None
    return _class_path(estimator) + (f"[{_class_path(final)}]" if final is not None else "")


def _class_path(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def predict_values(estimator: Any, frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """A regressor's predicted values on ``frame`` (floats)."""
    return np.asarray(estimator.predict(frame[list(features)]), dtype=float)


def check_regressor(estimator: Any, where: str) -> None:
    """A clear error unless ``estimator`` is a fitted scikit-learn-compatible regressor."""
    from sklearn.base import is_regressor
    from sklearn.utils.validation import check_is_fitted

    kind = type(estimator).__name__
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict") and hasattr(estimator, "get_params")):
        raise InvalidInput(f"{where} holds a {kind}, not a scikit-learn-compatible estimator")
    if not is_regressor(estimator):
        raise InvalidInput(
            f"{where} holds a {kind}, which is not a regressor: --task regression is for regressors "
            "(leave it out for a classifier)",
            code="not_a_regressor",
        )
    try:
        check_is_fitted(estimator)
    except Exception:  # sklearn raises NotFittedError (and others for odd estimators)
        raise InvalidInput(
            f"{where} holds an unfitted {kind}: the baseline must be a trained model"
        ) from None


def predict(estimator: Any, frame: pd.DataFrame, features: Sequence[str], task: Task) -> Predictions:
    """Hard predictions and per-class scores, mapped onto the task's class order."""
    x = frame[list(features)]
    labels = task.indices(estimator.predict(x))
    columns = task.indices(estimator.classes_)
    scores = np.zeros((len(frame), len(task.classes)), dtype=float)
    if hasattr(estimator, "predict_proba"):
        scores[:, columns] = estimator.predict_proba(x)
    else:
        decision = np.asarray(estimator.decision_function(x), dtype=float)
        if decision.ndim == 1:  # binary: the score of classes_[1]
            scores[:, columns[1]], scores[:, columns[0]] = decision, -decision
        else:
            scores[:, columns] = decision
    return Predictions(labels=labels, scores=scores)
