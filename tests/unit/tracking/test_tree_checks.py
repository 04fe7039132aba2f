"""Every tree of a skops model is checked before the platform trusts it (``model_files.check_skops_file``):
a corrupted node array is refused at inspection (registration) and at load (worker, CLI), never built."""

from __future__ import annotations

import functools
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from hokusai.errors import InvalidData, PayloadTooLarge
from hokusai.tracking.model_files import inspect_model_file, load_model_file
from tests.support.bombs import corrupt_tree, skops_schema_bomb

RNG = np.random.default_rng(5)
X = RNG.random((300, 4))
Y = (X[:, 0] + X[:, 1] > 1).astype(int) + (X[:, 2] > 0.7)
X_MISSING = X.copy()
X_MISSING[::7, 2] = np.nan  # splits on missing values carry a +inf threshold: legitimate


@functools.cache
def _fitted() -> dict[str, Any]:
    return {
        "random_forest": RandomForestClassifier(n_estimators=4, random_state=0).fit(X, Y),
        "extra_trees": ExtraTreesRegressor(n_estimators=3, random_state=0).fit(X, X[:, 1]),
        "gradient_boosting": GradientBoostingClassifier(n_estimators=4, random_state=0).fit(X, Y),
        "gradient_boosting_regressor": GradientBoostingRegressor(n_estimators=3).fit(X, X[:, 0]),
        "hist_gradient_boosting": HistGradientBoostingClassifier(max_iter=4).fit(X, Y),
        "hist_missing": HistGradientBoostingRegressor(max_iter=4).fit(X_MISSING, X[:, 0]),
        "tree_missing": DecisionTreeClassifier(random_state=0).fit(X_MISSING, Y),
        "pipeline": make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3)).fit(X, Y),
    }


@pytest.fixture(scope="module")
def tree_file() -> bytes:
    return skops.io.dumps(DecisionTreeClassifier(random_state=0).fit(X, Y))


@pytest.mark.parametrize("name", sorted(_fitted()))
def test_legitimate_tree_models_pass_and_predict_as_before(name: str, tmp_path: Path) -> None:
    estimator = _fitted()[name]
    path = tmp_path / "model.skops"
    path.write_bytes(skops.io.dumps(estimator))
    assert inspect_model_file(path, "skops").estimator_class is not None
    loaded = load_model_file(path, "skops")
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))


CORRUPTIONS = [
    ("Tree", "left_child", 50_000_000, "left child out of range"),
    ("Tree", "left_child", 0, "left child out of range"),  # a cycle: a node its own child
    ("Tree", "right_child", -5, "right child out of range"),
    ("Tree", "feature", 4, "feature index outside 0..3"),
    ("Tree", "threshold", np.nan, "NaN threshold"),
    ("Tree", "left_child", -1, "a leaf whose children are not -1"),
    ("TreePredictor", "left", 10**6, "left child out of range"),
    ("TreePredictor", "feature_idx", 9, "feature index outside 0..3"),
]


@pytest.mark.parametrize(("cls", "field", "value", "reason"), CORRUPTIONS)
def test_a_corrupted_tree_is_refused_at_inspection_and_at_load(
    cls: str, field: str, value: Any, reason: str, tree_file: bytes, tmp_path: Path
) -> None:
    source = (
        tree_file if cls == "Tree" else skops.io.dumps(HistGradientBoostingClassifier(max_iter=2).fit(X, Y))
    )
    path = tmp_path / "model.skops"
    path.write_bytes(corrupt_tree(source, field, value, cls=cls))
    for check in (inspect_model_file, load_model_file):
        with pytest.raises(InvalidData, match=reason) as refused:
            check(path, "skops")
        assert refused.value.code == "model_tree_invalid" and refused.value.status_code == 422
        assert refused.value.details["node"] == 0
        assert "Classifier" in refused.value.message  # the estimator is named


def test_a_schema_that_inflates_past_its_budget_is_refused_before_it_is_read(
    tree_file: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(skops_schema_bomb(tree_file, inflated=64 << 20))
    assert path.stat().st_size < 1 << 20
    for check in (inspect_model_file, load_model_file):
        with pytest.raises(PayloadTooLarge) as refused:
            check(path, "skops")
        assert refused.value.code == "inflated_too_large" and refused.value.details["member"] == "schema.json"


def test_a_tree_relabelled_as_a_trusted_type_is_still_checked(tree_file: bytes, tmp_path: Path) -> None:
    """skops's TreeNode loader builds a Tree whatever the node's ``__class__`` names."""
    corrupted = corrupt_tree(tree_file, "left_child", 50_000_000)
    with zipfile.ZipFile(io.BytesIO(corrupted)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    schema = json.loads(members["schema.json"])
    tree = schema["content"]["content"]["tree_"]
    assert tree["__loader__"] == "TreeNode"
    tree["__class__"], tree["__module__"] = "_SigmoidCalibration", "sklearn.calibration"  # on the allowlist
    members["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    path = tmp_path / "model.skops"
    path.write_bytes(out.getvalue())
    with pytest.raises(InvalidData, match="left child out of range"):
        load_model_file(path, "skops")


def test_a_tree_whose_max_depth_understates_its_depth_is_refused(tree_file: bytes, tmp_path: Path) -> None:
    """``decision_path`` sizes its output by ``max_depth`` and writes one entry per level."""
    with zipfile.ZipFile(io.BytesIO(tree_file)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    schema = json.loads(members["schema.json"])
    schema["content"]["content"]["tree_"]["content"]["content"]["max_depth"]["content"] = "1"
    members["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    path = tmp_path / "model.skops"
    path.write_bytes(out.getvalue())
    with pytest.raises(InvalidData, match="max_depth 1 is less than the tree's depth"):
        inspect_model_file(path, "skops")
