"""A running platform for the resource tests: real MLflow server, real API, local run workers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hokusai.pipeline.demo import TARGET, prepare_demo
from tests.support.mlflow import mlflow_settings
from tests.support.platform import Platform, serve_platform

DOMAIN = "hokusai.test"


@dataclass(frozen=True)
class DemoFiles:
    """The breast-cancer demo's files: a small base set, a helpful contribution, a benchmark, a baseline."""

    base: Path
    benchmark: Path
    contribution: Path
    model_dir: Path
    target: str = TARGET


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    spec = prepare_demo(tmp_path_factory.mktemp("demo"))
    return DemoFiles(spec.train, spec.benchmark, spec.contributions[0].path, Path(spec.baseline))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, mlflow_server) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    """One platform per test module, on the session's MLflow server (SQLite + local folders)."""
    state = tmp_path_factory.mktemp("platform")
    settings = mlflow_settings(
        state, mlflow_url=mlflow_server.url, public_domain=DOMAIN, job_workers=1, upload_max_bytes=5 << 20
    )
    with serve_platform(settings) as served:
        yield served
