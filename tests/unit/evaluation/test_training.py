"""Training: seeded clones with the same hyper-parameters; classifiers only; scores mapped to the task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from hokusai.errors import InvalidInput
from hokusai.evaluation.metrics import Task
from hokusai.evaluation.training import (
    check_classifier,
    predict,
    seeded_clone,
    task_of,
    training_config_hash,
)

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
Y = np.array([0, 0, 0, 1, 1, 1])


def test_seeded_clone_keeps_hyper_parameters_and_sets_every_random_state() -> None:
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=7, random_state=1))
    clone = seeded_clone(model, 42)
    params = clone.get_params()
    assert params["randomforestclassifier__random_state"] == 42
    assert params["randomforestclassifier__n_estimators"] == 7
    assert not hasattr(clone, "classes_")


def test_training_config_hash_changes_with_hyper_parameters_only() -> None:
    assert training_config_hash(LogisticRegression(C=1.0)) == training_config_hash(LogisticRegression(C=1.0))
    assert training_config_hash(LogisticRegression(C=1.0)) != training_config_hash(LogisticRegression(C=2.0))


def test_the_task_comes_from_the_model_and_a_mismatched_metric_names_the_task_flag() -> None:
    regressor, classifier = LinearRegression().fit(X, Y), LogisticRegression().fit(X, Y)
    assert task_of(regressor, "baseline b", None, "rmse") == "regression"
    assert task_of(regressor, "baseline b", None, None) == "regression"
    assert task_of(classifier, "baseline b", None, "auroc") is None  # binary or multiclass, from the labels
    with pytest.raises(
        InvalidInput, match=r"but rmse is a regression metric.*\(--task regression\)"
    ) as caught:
        task_of(classifier, "baseline b", None, "rmse")
    assert caught.value.code == "task_mismatch"
    with pytest.raises(InvalidInput, match=r"but auroc is a classification metric.*--task binary") as caught:
        task_of(regressor, "baseline b", None, "auroc")
    with pytest.raises(InvalidInput, match="not a regressor: --task regression is for regressors"):
        task_of(classifier, "baseline b", "regression", None)


def test_a_regressor_is_not_accepted_as_a_classification_baseline() -> None:
    with pytest.raises(InvalidInput, match="LinearRegression, which is not a classifier") as caught:
        check_classifier(LinearRegression().fit(X, Y), "baseline models:/m/1")
    assert caught.value.code == "not_a_classifier"


def test_an_unfitted_classifier_is_not_accepted_as_a_baseline() -> None:
    with pytest.raises(InvalidInput, match="unfitted LogisticRegression"):
        check_classifier(LogisticRegression(), "baseline dir")


def test_scores_are_mapped_onto_the_task_classes() -> None:
    model = LogisticRegression().fit(X, Y + 1)  # classes 1 and 2
    predictions = predict(model, X, ["a", "b"], Task((0, 1, 2)))
    assert predictions.scores.shape == (6, 3)
    assert np.allclose(predictions.scores[:, 0], 0)
    assert set(predictions.labels.tolist()) <= {1, 2}


def test_decision_function_scores_stand_in_for_probabilities() -> None:
    model = LinearSVC().fit(X, Y)
    predictions = predict(model, X, ["a", "b"], Task((0, 1)))
    assert np.allclose(predictions.scores[:, 1], model.decision_function(X))
