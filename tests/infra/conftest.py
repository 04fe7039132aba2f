"""Fixtures of the infrastructure tests: terraform, the provider mirror, the emulated AWS."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.infra.terraform import (
    ENVIRONMENTS,
    PLAN_VARIABLES,
    PLUGIN_DIR_ENV,
    ROOT,
    find_plugin_dir,
    make_workspace,
)
from tests.support.moto import MotoServer

# moto reports an ECS service's runningCount as MOTO_ECS_SERVICE_RUNNING (no emulator runs Fargate
# tasks); the applied environment runs one task per service, so running == desired == 1 there.
EMULATED_RUNNING_TASKS = 1


@pytest.fixture(scope="session")
def infra_tmp() -> Iterator[Path]:
    """A private temporary folder for the session's Terraform workspaces.

    Not pytest's ``tmp_path_factory``: on a machine where several test sessions run at once, each
    pytest prunes all but the newest three ``/tmp/pytest-of-<user>/pytest-N`` folders, which can
    remove a workspace while a minutes-long apply is still using it.
    """
    path = Path(tempfile.mkdtemp(prefix="hokusai-infra-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip(
            "terraform not available: install Terraform >= 1.10 (https://developer.hashicorp.com/terraform)"
        )
    return binary


@pytest.fixture(scope="session")
def plugin_dir() -> Path:
    found = find_plugin_dir()
    if found is None:
        pytest.skip(
            "the hashicorp/aws provider mirror not available: set "
            f"{PLUGIN_DIR_ENV} to a folder holding registry.terraform.io/hashicorp/aws/<version>/<os_arch>/"
        )
    return found


@pytest.fixture(scope="session")
def aws_emulator() -> Iterator[MotoServer]:
    """A moto server for Terraform: AWS managed IAM policies loaded, ECS services reporting running tasks."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed: pip install 'moto[server]'")
    server = MotoServer(
        extra_env={
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
            "MOTO_ECS_SERVICE_RUNNING": str(EMULATED_RUNNING_TASKS),
            "PYTHONPATH": str(ROOT),
        },
        module="tests.infra.moto_server",
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plan_jobs(
    infra_tmp: Path, terraform_bin: str, plugin_dir: Path, aws_emulator: MotoServer
) -> Iterator[dict[str, Future[dict[str, Any]]]]:
    """The plan of every environment, made in background threads (``terraform show -json`` of each).

    The apply test asks for this first, so the three plans run while the apply mostly waits on
    the emulator's create/delete waiters; the plan tests then find them done.
    """

    def plan(environment: str) -> dict[str, Any]:
        workspace = make_workspace(
            infra_tmp / f"plan-{environment}", terraform_bin, plugin_dir, aws_emulator.endpoint
        )
        workspace.write_tfvars(environment, {"environment": environment, **PLAN_VARIABLES[environment]})
        workspace.init()
        return workspace.plan_json(f"-var-file={environment}.tfvars")

    pool = ThreadPoolExecutor(max_workers=len(ENVIRONMENTS), thread_name_prefix="plan")
    yield {environment: pool.submit(plan, environment) for environment in ENVIRONMENTS}
    pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def plans(plan_jobs: dict[str, Future[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """``terraform show -json`` of a fresh plan of each environment against the emulator."""
    return {environment: job.result() for environment, job in plan_jobs.items()}
