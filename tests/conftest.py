"""Shared fixtures: the real parts (PostgreSQL, moto, MLflow) on free loopback ports, started once.

A test that needs a part this machine lacks is skipped with a reason naming the part; with
``HOKUSAI_REQUIRE_REAL_PARTS=1`` (set by ``.ci/run``) every skip is turned into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hokusai.config import Settings
from tests.support.mlflow import MlflowServer, mlflow_settings
from tests.support.moto import FAKE_AWS_ENV, MotoServer
from tests.support.postgres import PostgresCluster, find_postgres_bindir

REQUIRE_ENV = "HOKUSAI_REQUIRE_REAL_PARTS"


def _skip_to_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    if os.environ.get(REQUIRE_ENV) != "1" or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped, but {REQUIRE_ENV}=1 requires every real part to run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    _skip_to_failure(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _skip_to_failure(outcome.get_result())


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL 15 cluster for the session (initdb + pg_ctl, trust auth, loopback)."""
    bindir = find_postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql-15")
    cluster = PostgresCluster(bindir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(postgres: PostgresCluster) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return postgres.create_database()


@pytest.fixture(scope="session")
def container_images() -> dict[str, float]:
    """Both images built from the repository's Dockerfiles once per session: tag -> seconds its build took."""
    from tests.support import containers

    missing = containers.missing_tools()
    if missing:
        pytest.skip(
            f"container tools not installed: {', '.join(missing)} (apt-get install podman runc debootstrap)"
        )
    containers.ensure_base()
    # Both at once: a build mostly waits on downloads and the disk, so two overlap well on two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        tags = list(containers.DOCKERFILES)
        return dict(zip(tags, pool.map(containers.build_image, tags), strict=True))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto server for the session; fake AWS credentials are put in the environment."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed: pip install 'moto[server]'")
    saved = {key: os.environ.get(key) for key in FAKE_AWS_ENV}
    os.environ.update(FAKE_AWS_ENV)
    server = MotoServer().start()
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_client(moto_server: MotoServer):  # type: ignore[no-untyped-def]
    """A boto3 S3 client pointed at the moto server."""
    import boto3

    return boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1")


@pytest.fixture
def s3_bucket(s3_client) -> str:  # type: ignore[no-untyped-def]
    """A new empty bucket on the moto server."""
    name = f"hokusai-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded-default settings with state in a temporary folder and free ports."""
    return mlflow_settings(tmp_path / "state")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real ``mlflow server`` (SQLite + local artifacts) shared by the session."""
    server = MlflowServer(mlflow_settings(tmp_path_factory.mktemp("mlflow"))).start()
    yield server
    server.stop()
