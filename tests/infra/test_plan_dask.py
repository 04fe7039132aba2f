"""The optional Dask cluster (dask.tf): off by default; with ``dask_enabled`` a scheduler service found
through Cloud Map, worker services, a security group open only to pipeline tasks, and pipeline runs
pointed at the scheduler. Planned against the emulated AWS like the other plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.terraform import PLAN_VARIABLES, make_workspace
from tests.infra.test_plan import config_of, output_value, planned, references
from tests.support.moto import MotoServer

pytestmark = pytest.mark.realparts

SCHEDULER = "tcp://dask-scheduler.hokusai-staging.internal:8786"


@pytest.fixture(scope="module")
def dask_plan(
    infra_tmp: Path, terraform_bin: str, plugin_dir: Path, aws_emulator: MotoServer
) -> dict[str, Any]:
    workspace = make_workspace(infra_tmp / "plan-dask", terraform_bin, plugin_dir, aws_emulator.endpoint)
    values = {
        "environment": "staging",
        **PLAN_VARIABLES["staging"],
        "dask_enabled": True,
        "dask_worker_count": 3,
    }
    workspace.write_tfvars("staging", values)
    workspace.init()
    return workspace.plan_json("-var-file=staging.tfvars")


def _dask_resources(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in planned(plan) if "dask" in r["address"]]


def test_by_default_there_is_no_dask_cluster_and_runs_value_in_their_own_task(plans: dict[str, Any]) -> None:
    for plan in plans.values():
        assert _dask_resources(plan) == []
        pipeline = output_value(plan, "task_containers")["pipeline"]["environment"]
        assert "HOKUSAI_DASK_SCHEDULER" not in pipeline


def test_enabled_it_runs_one_scheduler_and_the_asked_number_of_workers(dask_plan: dict[str, Any]) -> None:
    services = {
        s["values"]["name"]: s for s in planned(dask_plan, "aws_ecs_service") if "dask" in s["address"]
    }
    assert {name: s["values"]["desired_count"] for name, s in services.items()} == {
        "hokusai-dask-scheduler": 1,
        "hokusai-dask-worker": 3,
    }
    assert len(services["hokusai-dask-scheduler"]["values"]["service_registries"]) == 1  # Cloud Map
    assert services["hokusai-dask-worker"]["values"]["service_registries"] == []
    for service in services.values():
        assert service["values"]["network_configuration"][0]["assign_public_ip"] is False
    discovery = [r for r in planned(dask_plan, "aws_service_discovery_service") if "dask" in r["address"]]
    assert [r["values"]["name"] for r in discovery] == ["dask-scheduler"]


def test_pipeline_runs_are_pointed_at_the_scheduler(dask_plan: dict[str, Any]) -> None:
    containers = output_value(dask_plan, "task_containers")
    assert containers["pipeline"]["environment"]["HOKUSAI_DASK_SCHEDULER"] == SCHEDULER
    assert "HOKUSAI_DASK_SCHEDULER" not in containers["api"]["environment"]  # runs value, not the API


def test_worker_tasks_are_sized_by_the_variables_on_the_platform_image(dask_plan: dict[str, Any]) -> None:
    tasks = {t["values"]["family"]: t["values"] for t in planned(dask_plan, "aws_ecs_task_definition")}
    worker, scheduler = tasks["hokusai-dask-worker-staging"], tasks["hokusai-dask-scheduler-staging"]
    assert (worker["cpu"], worker["memory"]) == ("2048", "8192")
    assert (scheduler["cpu"], scheduler["memory"]) == ("512", "1024")
    definition = config_of(dask_plan, 'aws_ecs_task_definition.dask["worker"]')
    assert {"local.task_image.api", "local.dask_command"} <= references(
        definition["expressions"]["container_definitions"]
    )


def test_only_pipeline_tasks_and_the_cluster_itself_reach_the_cluster(dask_plan: dict[str, Any]) -> None:
    rules = [r for r in planned(dask_plan, "aws_security_group_rule") if "dask" in r["address"]]
    ingress = [r for r in rules if r["values"]["type"] == "ingress"]
    assert ingress and all(not r["values"].get("cidr_blocks") for r in ingress)
    sources = {
        r["address"]: references(
            config_of(dask_plan, r["address"])["expressions"]["source_security_group_id"]
        )
        for r in ingress
    }
    assert all(
        refs & {"aws_security_group.api.id", "aws_security_group.dask[0].id"} for refs in sources.values()
    )
    scheduler_port = [r for r in ingress if r["values"]["from_port"] == 8786]
    assert [r["address"] for r in scheduler_port] == ["aws_security_group_rule.dask_from_pipeline[0]"]
