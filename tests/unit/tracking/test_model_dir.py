"""``save_model_dir`` writes the directory ``mlflow.sklearn.save_model`` writes, through MLflow's model
API (without its scan of every installed distribution), and MLflow loads it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from hokusai.tracking.model_files import EXTRA_TRUSTED_TYPES, canonical_skops
from hokusai.tracking.models import load_model_dir, save_model_dir

RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 3))
Y = (X[:, 0] + RNG.normal(scale=0.5, size=200) > 0).astype(int)
VOLATILE = ("model_uuid", "utc_time_created", "model_id")  # differ between any two saves
SIZE = "model_size_bytes"  # save_model states its file's size before the bytes are made canonical


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    return LogisticRegression().fit(X, Y)


@pytest.fixture(scope="module")
def mlflow_dir(model: LogisticRegression, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow.sklearn

    directory = tmp_path_factory.mktemp("mlflow") / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            model, str(directory), serialization_format="skops",
            skops_trusted_types=list(EXTRA_TRUSTED_TYPES),
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True),
        )  # fmt: skip
    return directory


def _mlmodel(directory: Path) -> dict[str, object]:
    document = yaml.safe_load((directory / "MLmodel").read_text())
    return {key: value for key, value in document.items() if key not in (*VOLATILE, SIZE)}


def test_the_directory_is_the_one_mlflow_save_model_writes(
    model: LogisticRegression, mlflow_dir: Path, tmp_path: Path
) -> None:
    ours = save_model_dir(model, tmp_path / "model").directory
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in mlflow_dir.iterdir())
    assert _mlmodel(ours) == _mlmodel(mlflow_dir)
    for name in ("requirements.txt", "conda.yaml", "python_env.yaml"):
        assert (ours / name).read_text() == (mlflow_dir / name).read_text(), name
    # the same canonical bytes as canonicalising save_model's file: model hashes do not change
    canonical = canonical_skops((mlflow_dir / "model.skops").read_bytes())
    assert (ours / "model.skops").read_bytes() == canonical
    assert yaml.safe_load((ours / "MLmodel").read_text())[SIZE] == (ours / "model.skops").stat().st_size


def test_mlflow_and_the_platform_load_it(model: LogisticRegression, tmp_path: Path) -> None:
    import mlflow.pyfunc
    import mlflow.sklearn

    saved = save_model_dir(model, tmp_path / "model")
    expected = model.predict(X)
    assert (mlflow.sklearn.load_model(str(saved.directory)).predict(X) == expected).all()
    assert (np.asarray(mlflow.pyfunc.load_model(str(saved.directory)).predict(X)) == expected).all()
    loaded = load_model_dir(saved.directory, expected_hash=saved.model_hash)
    assert (loaded.estimator.predict(X) == expected).all()
