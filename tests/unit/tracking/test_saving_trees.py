"""A tree model saved the way docs/pipeline.md says ("Saving a model for the platform") loads on the
platform; saved without the allowlist's types it fails in MLflow, and the platform's refusal of a type
outside its allowlist points at that section."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow.sklearn
import pytest
import skops.io
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

import hokusai
from hokusai.errors import InvalidInput
from hokusai.tracking.model_files import SAVING_DOC, check_allowlist
from hokusai.tracking.models import load_model_dir

DOCS = Path(hokusai.__file__).resolve().parents[2] / "docs"


def _anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def test_a_random_forest_saved_as_the_docs_say_loads_on_the_platform(tmp_path: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rf = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    with pytest.raises(MlflowException, match="untrusted types"):  # what a user meets first
        mlflow.sklearn.save_model(rf, tmp_path / "plain", serialization_format="skops")
    mlflow.sklearn.save_model(
        rf, tmp_path / "model", serialization_format="skops", skops_trusted_types=["sklearn.tree._tree.Tree"]
    )
    loaded = load_model_dir(tmp_path / "model")
    assert (loaded.estimator.predict(X) == rf.predict(X)).all()


def test_the_allowlist_error_points_at_the_section_that_explains_it(tmp_path: Path) -> None:
    path = tmp_path / "odd.skops"
    skops.io.dump({"value": __import__("fractions").Fraction(1, 3)}, path)
    with pytest.raises(InvalidInput, match="outside the allowlist") as caught:
        check_allowlist(path)
    assert SAVING_DOC in caught.value.message
    page, anchor = SAVING_DOC.removeprefix("docs/").split("#")
    headings = [
        line.lstrip("#").strip() for line in (DOCS / page).read_text().splitlines() if line.startswith("## ")
    ]
    assert anchor in {_anchor(h) for h in headings}
    section = (DOCS / page).read_text().split("## Saving a model for the platform", 1)[1].split("\n## ", 1)[0]
    assert "the model names types outside the allowlist" in section  # the error's own words
    assert 'skops_trusted_types=["sklearn.tree._tree.Tree"]' in section
