"""Data for the pipeline tests: a small synthetic classification task written as CSV files, a baseline
trained on a small slice (as a local MLflow model directory, and registered on the real server)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import mlflow.sklearn
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hokusai.config import Settings
from hokusai.pipeline.spec import Contribution, PipelineSpec
from hokusai.tracking.models import save_model_dir
from tests.support.mlflow import MlflowServer, mlflow_settings

FEATURES = [f"f{i}" for i in range(10)]
TARGET = "label"
WALLET_A = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
WALLET_B = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"
SIGNER_KEY = "0x4c0883a69102937d6231471b5decb2f39d16c5d2f5b4f1fd6e5a7dbfb8a8e1a1"


def baseline_estimator() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(random_state=0))


@dataclass(frozen=True)
class Case:
    """Files of one evaluation: base (80 rows), benchmark (800), a helpful contribution (1200),
    its label-flipped copy, and another 920 real rows."""

    root: Path
    baseline_dir: Path
    train: Path
    benchmark: Path
    good: Path
    flipped: Path
    other: Path
    frames: dict[str, pd.DataFrame]

    def spec(self, *contributions: tuple[Path, str | None], **options: object) -> PipelineSpec:
        values: dict[str, object] = {
            "baseline": str(self.baseline_dir),
            "train": self.train,
            "benchmark": self.benchmark,
            "contributions": tuple(Contribution(path, wallet) for path, wallet in contributions)
            or (Contribution(self.good, WALLET_A),),
            "target": TARGET,
            "out_dir": self.root / "out",
        }
        values.update(options)
        return PipelineSpec(**values)  # type: ignore[arg-type]

    def write(self, name: str, frame: pd.DataFrame) -> Path:
        path = self.root / name
        path.write_bytes(frame.to_csv(index=False).encode())
        return path


@pytest.fixture(scope="session")
def case_data(tmp_path_factory: pytest.TempPathFactory) -> Case:
    root = tmp_path_factory.mktemp("pipeline-data")
    x, y = make_classification(
        n_samples=3000,
        n_features=10,
        n_informative=6,
        n_redundant=2,
        class_sep=0.6,
        flip_y=0.03,
        random_state=0,
    )
    frame = pd.DataFrame(x, columns=FEATURES).round(6)
    frame[TARGET] = y
    parts = {
        "base": frame.iloc[:80],
        "benchmark": frame.iloc[80:880],
        "good": frame.iloc[880:2080],
        "other": frame.iloc[2080:],
    }
    parts["flipped"] = parts["good"].assign(**{TARGET: 1 - parts["good"][TARGET]})
    paths = {}
    for name, part in parts.items():
        paths[name] = root / f"{name}.csv"
        paths[name].write_bytes(part.to_csv(index=False).encode())
    baseline = baseline_estimator().fit(parts["base"][FEATURES], parts["base"][TARGET])
    save_model_dir(baseline, root / "baseline_model")
    return Case(
        root=root,
        baseline_dir=root / "baseline_model",
        train=paths["base"],
        benchmark=paths["benchmark"],
        good=paths["good"],
        flipped=paths["flipped"],
        other=paths["other"],
        frames=parts,
    )


@pytest.fixture
def case(case_data: Case, tmp_path: Path) -> Case:
    """The session's data with a per-test folder for outputs and extra files."""
    return replace(case_data, root=tmp_path)


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    """No server: the pipeline uses the backend store directly (the demo's mode); fixed signer key."""
    return mlflow_settings(tmp_path / "state", signer_key=SIGNER_KEY)


@pytest.fixture
def server_settings(tmp_path: Path, mlflow_server: MlflowServer) -> Settings:
    """The pipeline records on the session's real MLflow server."""
    return mlflow_settings(tmp_path / "state", tracking_uri=mlflow_server.url, signer_key=SIGNER_KEY)


@pytest.fixture
def registered_baseline(case_data: Case, mlflow_server: MlflowServer) -> str:
    """The baseline logged and registered the way a model owner does it (stock MLflow client)."""
    name = f"baseline-{uuid.uuid4().hex[:8]}"
    estimator = mlflow.sklearn.load_model(str(case_data.baseline_dir))
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_server.url)
    try:
        mlflow.set_experiment("model-owner")
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                estimator,
                name="model",
                registered_model_name=name,
                serialization_format="skops",  # what owners must log: the platform never unpickles
                pip_requirements=mlflow.sklearn.get_default_pip_requirements(),
            )
    finally:
        mlflow.set_tracking_uri(previous)
    return f"models:/{name}/1"


def valued_bps(report: dict) -> list[int]:  # type: ignore[type-arg]
    """The basis points the valuation gives each contribution from the report's values: what the run signs
    when it is accepted (a run that is not accepted signs 0 for everyone; its values are for the record)."""
    from hokusai.evaluation.weights import weights_from_values

    contributions = report["contributions"]
    return weights_from_values(
        [c["value_pp"] for c in contributions],
        stderr_pp=[c["value_se_pp"] for c in contributions],
        players=[bool(c["player"]) for c in contributions],
        accepted=True,
    ).bps
